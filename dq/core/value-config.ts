/**
 * The missing/valid/invalid keys of a column check, merged with the table's
 * `configurations for` (which add to the check's own lists, as in Soda).
 */
import type { CheckConfig } from './check-config.js';
import { DqSyntaxError } from './errors.js';
import type { ValueConfig } from './model.js';
import { valueList } from './yaml-source.js';

/** Keys a column metric may carry to shape what counts as missing, valid or invalid. */
export const VALUE_KEYS = [
  'missing values',
  'missing regex',
  'valid values',
  'valid regex',
  'valid min',
  'valid max',
  'valid length',
  'valid min length',
  'valid max length',
  'invalid values',
  'invalid regex',
] as const;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function numberKey(cfg: CheckConfig, k: string): number | undefined {
  const v = cfg.get(k);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new DqSyntaxError(cfg.keyPos(k), `"${k}" must be a number`);
  return v;
}

function lengthKey(cfg: CheckConfig, k: string): number | undefined {
  const v = numberKey(cfg, k);
  if (v !== undefined && (!Number.isInteger(v) || v < 0))
    throw new DqSyntaxError(cfg.keyPos(k), `"${k}" must be a non-negative integer`);
  return v;
}

function regexKey(cfg: CheckConfig, k: string): string | undefined {
  const v = cfg.get(k);
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new DqSyntaxError(cfg.keyPos(k), `"${k}" must be a string (a POSIX regular expression)`);
  return v;
}

function listKey(cfg: CheckConfig, k: string): (string | number)[] | undefined {
  return cfg.has(k) ? valueList(cfg.get(k), cfg.keyPos(k), k) : undefined;
}

/** `missingFromConfigurations`: `missing values for COL` of the table's configurations. */
export function parseValueConfig(
  cfg: CheckConfig,
  missingFromConfigurations: readonly (string | number)[],
): ValueConfig {
  const out: Mutable<ValueConfig> = {
    missingValues: [...missingFromConfigurations, ...(listKey(cfg, 'missing values') ?? [])],
  };
  const set = <K extends keyof ValueConfig>(k: K, v: ValueConfig[K] | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('missingRegex', regexKey(cfg, 'missing regex'));
  set('validValues', listKey(cfg, 'valid values'));
  set('validRegex', regexKey(cfg, 'valid regex'));
  set('validMin', numberKey(cfg, 'valid min'));
  set('validMax', numberKey(cfg, 'valid max'));
  set('validLength', lengthKey(cfg, 'valid length'));
  set('validMinLength', lengthKey(cfg, 'valid min length'));
  set('validMaxLength', lengthKey(cfg, 'valid max length'));
  set('invalidValues', listKey(cfg, 'invalid values'));
  set('invalidRegex', regexKey(cfg, 'invalid regex'));
  return out;
}
