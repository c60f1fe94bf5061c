/** Pieces several views share: the time-range buttons and a table with its headings. */
import { h } from '../dom.js';
import { RANGES, type Range } from '../url-state.js';

/** One button per range; the current one is pressed. */
export function rangeButtons(current: Range, pick: (range: Range) => void): HTMLElement {
  return h(
    'div',
    { class: 'segmented', role: 'group', 'aria-label': 'Time range' },
    ...RANGES.map((range) =>
      h(
        'button',
        {
          type: 'button',
          class: range === current ? 'active' : '',
          'aria-pressed': range === current ? 'true' : 'false',
          onclick: () => pick(range),
        },
        range,
      ),
    ),
  );
}

export function dataTable(headings: readonly string[], body: HTMLTableSectionElement): HTMLTableElement {
  return h('table', { class: 'data' }, h('thead', {}, h('tr', {}, ...headings.map((t) => h('th', {}, t)))), body);
}
