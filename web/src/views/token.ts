/**
 * The first thing a new visitor sees: where to find a token, a field for it, and a check with
 * the API before the dashboard opens. The token is kept in sessionStorage only.
 */
import { AuthError, checkToken, ForbiddenError, NetworkError } from '../api.js';
import { h } from '../dom.js';
import { cleanToken } from '../token-text.js';

export function showTokenPrompt(reason: string | null, onAccepted: () => void): HTMLElement {
  const input = h('input', {
    type: 'password',
    name: 'token',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: 'paste your API token',
    'aria-label': 'API token',
    required: true,
  });
  const message = h('p', { class: 'prompt-error', role: 'alert', hidden: reason === null }, reason ?? '');
  const button = h('button', { type: 'submit' }, 'Open the dashboard');
  const form = h(
    'form',
    { class: 'token-form' },
    h('h1', {}, h('span', { class: 'logo' }), 'IoT First'),
    h('p', {}, 'This dashboard reads the pipeline through its API, which needs a read token.'),
    h(
      'ul',
      { class: 'muted' },
      h(
        'li',
        {},
        h('code', {}, 'npm start'),
        ' prints a local read token when it first starts and keeps it in the file ',
        h('code', {}, 'api-token'),
        ' of its state folder (',
        h('code', {}, '.iot-first/'),
        ' unless started with ',
        h('code', {}, '--state-dir'),
        ').',
      ),
      h('li', {}, 'Or create one: ', h('code', {}, 'npm run token -- create my-laptop'), '.'),
    ),
    h('label', {}, 'API token', input),
    message,
    button,
    h(
      'p',
      { class: 'muted small' },
      'The token stays in this browser tab only (session storage) and is sent to this server’s API alone.',
    ),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = cleanToken(input.value);
    if (!token) return;
    button.disabled = true;
    message.hidden = true;
    try {
      await checkToken(token);
      onAccepted();
    } catch (error) {
      message.hidden = false;
      message.textContent =
        error instanceof AuthError
          ? 'The API refused this token: it is wrong, expired or revoked.'
          : error instanceof ForbiddenError
            ? 'This token has no read scope.'
            : error instanceof NetworkError
              ? 'Cannot reach the API. Is npm start (or the deployed stack) running?'
              : `The API could not check the token: ${error instanceof Error ? error.message : String(error)}`;
      button.disabled = false;
      input.select();
    }
  });
  queueMicrotask(() => input.focus());
  return h('div', { class: 'prompt' }, form);
}
