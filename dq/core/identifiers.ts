/**
 * SodaCL identifiers as PostgreSQL reads them: unquoted names fold to lower case, quoted names
 * keep their spelling (`""` inside stands for one `"`).
 */

/** One identifier: a plain name or a double-quoted one. */
export const IDENT = '(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")';
/** `table` or `schema.table`. */
export const TABLE = String.raw`${IDENT}(?:\.${IDENT})?`;

const IDENT_ONLY = new RegExp(`^${IDENT}$`);

/** Soda unquoted identifiers are sent to PostgreSQL unquoted, which folds them to lower case. */
export function normalizeIdentifier(raw: string): string {
  const trimmed = raw.trim();
  if (trimmed.startsWith('"')) return trimmed.slice(1, -1).replaceAll('""', '"');
  return trimmed.toLowerCase();
}

export function isIdentifier(raw: string): boolean {
  return IDENT_ONLY.test(raw.trim());
}

/** Splits `a.b` into its parts, respecting quotes, each part normalized. */
export function tableName(raw: string): string {
  const parts = raw.match(new RegExp(IDENT, 'g')) ?? [];
  return parts.map(normalizeIdentifier).join('.');
}
