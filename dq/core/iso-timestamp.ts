/**
 * Timestamps as Soda reads scan variables such as `NOW`: Python's `datetime.fromisoformat`
 * (Python 3.11+, "most ISO 8601 formats"), then naive values as UTC (FreshnessCheck._datetime_to_utc).
 * Accepted: `2026-01-01`, `20260101`, `2026-W01-4`; then any one separator character and a time
 * `HH[:MM[:SS[.f+]]]` or `HH[MM[SS[.f+]]]` (`.` or `,` before the fraction, at most six digits
 * kept); then `Z` or `±HH[:MM[:SS[.ffffff]]]`. Anything else is unreadable.
 */

const DATE_EXTENDED = /^(\d{4})-(\d{2})-(\d{2})/;
const DATE_BASIC = /^(\d{4})(\d{2})(\d{2})/;
const WEEK = /^(\d{4})-?W(\d{2})(?:-?([1-7]))?/;
const TIME_EXTENDED = /^(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?/;
const TIME_BASIC = /^(\d{2})(?:(\d{2})(?:(\d{2})(?:[.,](\d+))?)?)?/;
const OFFSET = /^([+-])(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$/;

interface Parsed<T> {
  readonly value: T;
  readonly rest: string;
}

/** Days since 1970-01-01 of a proleptic Gregorian date; undefined when the day does not exist. */
function epochDay(year: number, month: number, day: number): number | undefined {
  if (year < 1 || month < 1 || month > 12 || day < 1) return undefined;
  const ms = Date.UTC(year, month - 1, day);
  const d = new Date(ms);
  // Date.UTC maps years 0-99 to 1900+; setUTCFullYear puts them back.
  d.setUTCFullYear(year, month - 1, day);
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined;
  return Math.round(d.getTime() / 86_400_000);
}

/** ISO week dates: week 1 holds January 4th; weekday 1 is Monday; a week belongs to the year of its Thursday. */
function weekEpochDay(year: number, week: number, weekday: number): number | undefined {
  const jan4 = epochDay(year, 1, 4);
  if (jan4 === undefined || week < 1 || week > 53) return undefined;
  const isoWeekday = (day: number): number => ((((day + 3) % 7) + 7) % 7) + 1; // 1970-01-01 was a Thursday
  const monday = jan4 - (isoWeekday(jan4) - 1) + (week - 1) * 7;
  const thursday = new Date((monday + 3) * 86_400_000);
  if (thursday.getUTCFullYear() !== year) return undefined;
  return monday + (weekday - 1);
}

function parseDate(text: string): Parsed<number> | undefined {
  const week = WEEK.exec(text);
  if (week) {
    const day = weekEpochDay(Number(week[1]), Number(week[2]), Number(week[3] ?? 1));
    return day === undefined ? undefined : { value: day, rest: text.slice(week[0].length) };
  }
  const m = DATE_EXTENDED.exec(text) ?? DATE_BASIC.exec(text);
  if (!m) return undefined;
  const day = epochDay(Number(m[1]), Number(m[2]), Number(m[3]));
  return day === undefined ? undefined : { value: day, rest: text.slice(m[0].length) };
}

/** Seconds into the day (with microseconds) of `HH[:MM[:SS[.f]]]`. */
function parseTime(text: string): Parsed<number> | undefined {
  const m = (text[2] === ':' ? TIME_EXTENDED : TIME_BASIC).exec(text);
  if (!m) return undefined;
  const [h, min, s] = [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  if (h > 23 || min > 59 || s > 59) return undefined;
  const micros = Number((m[4] ?? '').slice(0, 6).padEnd(6, '0'));
  return { value: h * 3600 + min * 60 + s + micros / 1e6, rest: text.slice(m[0].length) };
}

/** Offset east of UTC, in seconds; 0 for `Z` or no offset (naive means UTC in Soda). */
function parseOffset(text: string): number | undefined {
  if (text === '' || text === 'Z') return 0;
  const m = OFFSET.exec(text);
  if (!m) return undefined;
  const seconds = Number(m[2]) * 3600 + Number(m[3] ?? 0) * 60 + Number(m[4] ?? 0) + Number(`0.${m[5] ?? 0}`);
  if (seconds >= 86_400 || Number(m[3] ?? 0) > 59 || Number(m[4] ?? 0) > 59) return undefined;
  return m[1] === '-' ? -seconds : seconds;
}

/** Epoch seconds (UTC) of an ISO timestamp as Python's fromisoformat reads it; undefined if unreadable. */
export function parseIsoTimestamp(raw: string): number | undefined {
  const date = parseDate(raw);
  if (!date) return undefined;
  if (date.rest === '') return date.value * 86_400;
  // Any single character separates date and time, as in Python (`T`, a space, ...).
  const time = parseTime(date.rest.slice(1));
  if (!time) return undefined;
  const offset = parseOffset(time.rest);
  if (offset === undefined) return undefined;
  return date.value * 86_400 + time.value - offset;
}
