/**
 * The only place SQL text is assembled from check-file content.
 *
 * - Identifiers (tables, columns) are validated and double-quoted, so a column name can never
 *   become SQL. Parsed names are already case-folded the way PostgreSQL folds unquoted names
 *   (see normalizeIdentifier), so quoting keeps Soda's meaning.
 * - Values (valid values, regexes, min/max, lengths) become `$n` parameters, never text.
 * - Free SQL that SodaCL defines as SQL (`filter`, `where`, `fail condition`, `fail query`,
 *   `NAME query`, `NAME expression`) is taken verbatim, as Soda does: it is code, reviewed with
 *   the check files. The adapter runs every scan in read-only transactions, so even that SQL
 *   cannot change data.
 */
export interface SqlQuery {
  readonly text: string;
  readonly params: readonly (string | number | null)[];
}

export class InvalidIdentifierError extends Error {
  override readonly name = 'InvalidIdentifierError';
}

/** Quotes one identifier after checking it is a plausible PostgreSQL name. */
export function quoteIdent(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what PostgreSQL refuses in a name
  if (name.length === 0 || name.length > 63 || /[\u0000.]/.test(name)) {
    throw new InvalidIdentifierError(`invalid identifier ${JSON.stringify(name)}`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** `schema.table` or `table`, each part quoted. */
export function quoteTable(table: string): string {
  const parts = table.split('.');
  if (parts.length > 2) throw new InvalidIdentifierError(`invalid table name ${JSON.stringify(table)}`);
  return parts.map(quoteIdent).join('.');
}

/** Collects parameters in order and hands out their placeholders. */
export class Params {
  readonly values: (string | number | null)[] = [];
  add(value: string | number | null): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  list(values: readonly (string | number)[]): string {
    return values.map((v) => this.add(v)).join(', ');
  }
}

/** Strips trailing semicolons so user SQL can be wrapped as a subquery. */
export function stripSemicolons(sql: string): string {
  return sql.trim().replace(/;+\s*$/, '');
}

/** `WHERE (a) AND (b)` from the SQL fragments present, or an empty string. */
export function whereClause(conditions: readonly (string | undefined)[]): string {
  const present = conditions.filter((c): c is string => c !== undefined && c.trim() !== '');
  // Newlines around each fragment: a trailing `-- comment` must not swallow the parenthesis.
  return present.length === 0 ? '' : ` WHERE ${present.map((c) => `(\n${c}\n)`).join(' AND ')}`;
}
