/**
 * The missing/valid/invalid keys of a column check and of `configurations for TABLE:`
 * (`valid format for COLUMN: email`), merged the way Soda merges them
 * (MissingAndValidCfg.merge: `missing values` and `valid values` add up, otherwise the
 * check's own key wins over the table's configuration).
 */
import { DqSyntaxError } from './errors.js';
import { SODA_FORMATS } from './formats.js';
import type { SourcePos, ValueConfig } from './model.js';
import { valueList } from './yaml-source.js';

/** Soda's CFG_MISSING_VALID_ALL: the keys that shape what counts as missing, valid or invalid. */
export const VALUE_KEYS = [
  'missing values',
  'missing format',
  'missing regex',
  'valid values',
  'valid format',
  'valid regex',
  'valid min',
  'valid max',
  'valid length',
  'valid min length',
  'valid max length',
  'invalid values',
  'invalid format',
  'invalid regex',
  'include null',
] as const;
export type ValueKey = (typeof VALUE_KEYS)[number];

export function isValueKey(key: string): key is ValueKey {
  return (VALUE_KEYS as readonly string[]).includes(key);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
/** A configuration before merging: `missingValues` may be absent. */
export type PartialValueConfig = Partial<Mutable<ValueConfig>>;

function numberValue(key: string, v: unknown, pos: SourcePos): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new DqSyntaxError(pos, `"${key}" must be a number`);
  return v;
}

function lengthValue(key: string, v: unknown, pos: SourcePos): number {
  const n = numberValue(key, v, pos);
  if (!Number.isInteger(n) || n < 0) throw new DqSyntaxError(pos, `"${key}" must be a non-negative integer`);
  return n;
}

function regexValue(key: string, v: unknown, pos: SourcePos): string {
  if (typeof v !== 'string') throw new DqSyntaxError(pos, `"${key}" must be a string (a POSIX regular expression)`);
  return v;
}

function formatValue(key: string, v: unknown, pos: SourcePos): string {
  if (typeof v !== 'string' || !SODA_FORMATS.has(v)) {
    throw new DqSyntaxError(
      pos,
      `"${key}": unknown format ${JSON.stringify(v)} (Soda's formats: ${[...SODA_FORMATS.keys()].join(', ')})`,
    );
  }
  return v;
}

/** Soda: only strings or only numbers in one list. */
function homogeneousList(key: string, v: unknown, pos: SourcePos): (string | number)[] {
  const list = valueList(v, pos, key);
  if (!list.every((x) => typeof x === 'string') && !list.every((x) => typeof x === 'number'))
    throw new DqSyntaxError(pos, `"${key}": only strings or only numbers allowed in one list`);
  return list;
}

function booleanValue(key: string, v: unknown, pos: SourcePos): boolean {
  if (typeof v !== 'boolean') throw new DqSyntaxError(pos, `"${key}" must be true or false`);
  return v;
}

type Reader = (key: string, v: unknown, pos: SourcePos) => PartialValueConfig[keyof PartialValueConfig];

/** Each key: the field it sets and how its value is read (Soda's __parse_missing_and_valid). */
const KEY_READERS: Readonly<Record<ValueKey, readonly [keyof ValueConfig, Reader]>> = {
  'missing values': ['missingValues', homogeneousList],
  'missing format': ['missingFormat', formatValue],
  'missing regex': ['missingRegex', regexValue],
  'valid values': ['validValues', homogeneousList],
  'valid format': ['validFormat', formatValue],
  'valid regex': ['validRegex', regexValue],
  'valid min': ['validMin', numberValue],
  'valid max': ['validMax', numberValue],
  'valid length': ['validLength', lengthValue],
  'valid min length': ['validMinLength', lengthValue],
  'valid max length': ['validMaxLength', lengthValue],
  'invalid values': ['invalidValues', homogeneousList],
  'invalid format': ['invalidFormat', formatValue],
  'invalid regex': ['invalidRegex', regexValue],
  'include null': ['includeNull', booleanValue],
};

/** Reads one key into `into`. */
export function readValueKey(into: PartialValueConfig, key: ValueKey, v: unknown, pos: SourcePos): void {
  const [field, read] = KEY_READERS[key];
  Object.assign(into, { [field]: read(key, v, pos) });
}

/** The check's keys over the table's configuration for that column. */
export function mergeValueConfig(check: PartialValueConfig, table: PartialValueConfig | undefined): ValueConfig {
  const merged: Mutable<ValueConfig> = { ...table, ...check, missingValues: [] };
  merged.missingValues = [...(table?.missingValues ?? []), ...(check.missingValues ?? [])];
  if (check.validValues !== undefined || table?.validValues !== undefined)
    merged.validValues = [...(table?.validValues ?? []), ...(check.validValues ?? [])];
  return merged;
}

/** True when any key applies (Soda's "missing or validity configured"). */
export function isConfigured(check: PartialValueConfig, table: PartialValueConfig | undefined): boolean {
  const any = (c: PartialValueConfig | undefined): boolean =>
    c !== undefined &&
    Object.entries(c).some(
      ([k, v]) => v !== undefined && !(k === 'missingValues' && Array.isArray(v) && v.length === 0),
    );
  return any(check) || any(table);
}
