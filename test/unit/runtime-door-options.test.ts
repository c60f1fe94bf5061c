import { describe, expect, it } from 'vitest';
import { DEFAULT_PORTS, parseStartOptions, UsageError } from '#runtime/cli-options.js';

describe('npm start options of the query API door', () => {
  it('serves the API on the README port 8080 unless --api-port says otherwise; no e-mail by default', () => {
    expect(DEFAULT_PORTS.api).toBe(8080);
    const o = parseStartOptions([]);
    expect(o.ports.api).toBe(8080);
    expect(o.smtpUrl).toBeUndefined();
    expect(parseStartOptions(['--api-port', '0']).ports.api).toBe(0);
  });

  it('takes an SMTP URL for alert e-mail and refuses anything else, naming the flag', () => {
    expect(parseStartOptions(['--smtp', 'smtp://127.0.0.1:2525']).smtpUrl).toBe('smtp://127.0.0.1:2525');
    expect(() => parseStartOptions(['--smtp', 'mail.example.com'])).toThrow(UsageError);
    expect(() => parseStartOptions(['--smtp', 'http://127.0.0.1:25'])).toThrow(/--smtp/);
    expect(() => parseStartOptions(['--api-port', '70000'])).toThrow(/--api-port/);
  });
});
