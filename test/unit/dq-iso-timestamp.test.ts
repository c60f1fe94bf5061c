/**
 * Scan variables such as NOW are read as Soda reads them: Python's datetime.fromisoformat
 * (freshness_check.py; Python 3.11+ documentation of date/datetime.fromisoformat, whose examples
 * these are), with naive values as UTC (FreshnessCheck._datetime_to_utc).
 */
import { describe, expect, it } from 'vitest';
import { parseIsoTimestamp } from '#dq/core/iso-timestamp.js';

const utc = (iso: string): number => Date.parse(iso) / 1000;

describe('parseIsoTimestamp (Python datetime.fromisoformat)', () => {
  it.each([
    ['2011-11-04', utc('2011-11-04T00:00:00Z')],
    ['20111104', utc('2011-11-04T00:00:00Z')],
    ['2011-11-04T00:05:23', utc('2011-11-04T00:05:23Z')],
    ['2011-11-04T00:05:23Z', utc('2011-11-04T00:05:23Z')],
    ['20111104T000523', utc('2011-11-04T00:05:23Z')],
    ['2011-W01-2T00:05:23.283', utc('2011-01-04T00:05:23.283Z')],
    ['2011-11-04 00:05:23.283', utc('2011-11-04T00:05:23.283Z')],
    ['2011-11-04 00:05:23.283+00:00', utc('2011-11-04T00:05:23.283Z')],
    ['2011-11-04T00:05:23+04:00', utc('2011-11-03T20:05:23Z')],
    // Soda's own NOW values (test_freshness.py) and the form the runner used to require.
    ['2020-06-24 01:00:00', utc('2020-06-24T01:00:00Z')],
    ['2020-06-25 01:00:00+01:00', utc('2020-06-25T00:00:00Z')],
    ['2026-01-01T00:00:00Z', utc('2026-01-01T00:00:00Z')],
    // Any one character separates date and time; a comma may start the fraction; digits past six are dropped.
    ['2011-11-04x00:05', utc('2011-11-04T00:05:00Z')],
    ['2011-11-04T00:05:23,5', utc('2011-11-04T00:05:23.5Z')],
    ['2011-11-04T00:05:23.1234567', utc('2011-11-04T00:05:23Z') + 0.123456],
    ['2011-11-04T00:05:23-0130', utc('2011-11-04T01:35:23Z')],
    ['2020-W53-5', utc('2021-01-01T00:00:00Z')],
  ])('reads %s', (text, expected) => {
    expect(parseIsoTimestamp(text)).toBeCloseTo(expected, 6);
  });

  it.each([
    '',
    'yesterday',
    '2011-11', // reduced precision is not supported by Python
    '2011-02-30',
    '2011-11-04T25:00',
    '2011-11-04T00:60',
    '2011-11-04T00:05:23+24:00',
    '2011-11-04T00:05:23 UTC',
    '2021-W53-1', // 2021 has 52 ISO weeks
    '2011-11-04T',
  ])('rejects %j', (text) => {
    expect(parseIsoTimestamp(text)).toBeUndefined();
  });
});
