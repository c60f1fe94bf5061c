/**
 * db/metadata/*.yml: the documented contract of each table and view, and its comparison with a
 * live catalog snapshot. Pure (the files are read by `#dq/adapters/metadata-files.js`), so a
 * test can show both that the shipped schema agrees and that a drift is reported.
 */
import { z } from 'zod';

const column = z.strictObject({
  name: z.string().min(1),
  type: z.string().min(1),
  /** Required for tables; views report every column as nullable, so it is omitted there. */
  nullable: z.boolean().optional(),
  description: z.string().min(1),
  allowed_values: z.array(z.string()).optional(),
  range: z
    .strictObject({
      min: z.number().optional(),
      max: z.number().optional(),
      min_column: z.string().optional(),
      max_column: z.string().optional(),
    })
    .optional(),
  length: z.strictObject({ min: z.number().int(), max: z.number().int() }).optional(),
});

export const tableMetadataSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['table', 'view']),
  owner: z.string().min(1),
  description: z.string().min(1),
  grain: z.array(z.string()).min(1),
  unique_keys: z
    .array(
      z.strictObject({ columns: z.array(z.string()).min(1), where: z.string().optional(), why: z.string().optional() }),
    )
    .optional(),
  columns: z.array(column).min(1),
});
export type TableMetadata = z.output<typeof tableMetadataSchema>;

/** What the test reads from the catalog. */
export interface CatalogSnapshot {
  readonly relations: readonly { readonly name: string; readonly kind: 'table' | 'view' }[];
  readonly columns: readonly {
    readonly table: string;
    readonly name: string;
    readonly type: string;
    readonly nullable: boolean;
  }[];
  /** Unique indexes (the primary key included); `predicate` is the partial index's WHERE. */
  readonly uniqueIndexes: readonly {
    readonly table: string;
    readonly columns: readonly string[];
    readonly predicate: string | null;
  }[];
  /** CHECK constraints with the columns they mention. */
  readonly checks: readonly {
    readonly table: string;
    readonly columns: readonly string[];
    readonly definition: string;
  }[];
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

/** Every disagreement between the metadata and the catalog, as readable lines; [] when none. */
export function compareMetadata(metadata: readonly TableMetadata[], catalog: CatalogSnapshot): string[] {
  const byName = new Map(metadata.map((m) => [m.name, m]));
  const problems = catalog.relations
    .filter((rel) => !byName.has(rel.name))
    .map((rel) => `${rel.name}: ${rel.kind} has no db/metadata/${rel.name}.yml`);
  for (const meta of metadata) {
    const rel = catalog.relations.find((r) => r.name === meta.name);
    if (!rel) {
      problems.push(`${meta.name}: described in db/metadata but not in the database`);
      continue;
    }
    if (rel.kind !== meta.kind) problems.push(`${meta.name}: is a ${rel.kind}, metadata says ${meta.kind}`);
    problems.push(...columnListProblems(meta, catalog));
    for (const col of meta.columns) problems.push(...columnProblems(meta, col, catalog));
    problems.push(...keyProblems(meta, catalog));
  }
  return problems;
}

type ColumnMetadata = TableMetadata['columns'][number];

/** Columns missing on either side, and the order. */
function columnListProblems(meta: TableMetadata, catalog: CatalogSnapshot): string[] {
  const problems: string[] = [];
  const actualNames = catalog.columns.filter((c) => c.table === meta.name).map((c) => c.name);
  const documented = meta.columns.map((c) => c.name);
  for (const n of actualNames) if (!documented.includes(n)) problems.push(`${meta.name}.${n}: column not in metadata`);
  for (const n of documented)
    if (!actualNames.includes(n)) problems.push(`${meta.name}.${n}: in metadata but not in the database`);
  if (sameSet(actualNames, documented) && actualNames.join() !== documented.join())
    problems.push(`${meta.name}: column order differs (${actualNames.join(', ')})`);
  return problems;
}

/** Type, nullability and allowed values of one documented column that exists. */
function columnProblems(meta: TableMetadata, col: ColumnMetadata, catalog: CatalogSnapshot): string[] {
  const a = catalog.columns.find((c) => c.table === meta.name && c.name === col.name);
  if (!a) return [];
  const problems: string[] = [];
  // Spelled exactly as information_schema does, so the metadata reads the same as the catalog.
  if (col.type.toLowerCase() !== a.type.toLowerCase())
    problems.push(`${meta.name}.${col.name}: type is ${a.type}, metadata says ${col.type}`);
  if (meta.kind === 'table') {
    if (col.nullable === undefined) problems.push(`${meta.name}.${col.name}: metadata must say nullable true/false`);
    else if (col.nullable !== a.nullable)
      problems.push(`${meta.name}.${col.name}: nullable is ${a.nullable}, metadata says ${col.nullable}`);
    problems.push(...allowedValuesProblems(meta, col, catalog));
  }
  return problems;
}

/** `allowed_values` against the CHECK constraint on that column, where there is one. */
function allowedValuesProblems(meta: TableMetadata, col: ColumnMetadata, catalog: CatalogSnapshot): string[] {
  const allowed = col.allowed_values;
  if (!allowed) return [];
  const problems: string[] = [];
  for (const chk of catalog.checks.filter(
    (c) => c.table === meta.name && c.columns.length === 1 && c.columns[0] === col.name,
  )) {
    const literals = [...chk.definition.matchAll(/'([^']*)'/g)].map((m) => m[1] ?? '');
    if (literals.length > 0 && !sameSet(literals, allowed)) {
      problems.push(
        `${meta.name}.${col.name}: CHECK allows [${literals.join(', ')}], metadata says [${allowed.join(', ')}]`,
      );
    }
  }
  return problems;
}

/** The grain and unique keys: documented columns, each backed by a unique index. */
function keyProblems(meta: TableMetadata, catalog: CatalogSnapshot): string[] {
  const problems: string[] = [];
  const documented = meta.columns.map((c) => c.name);
  for (const g of [...meta.grain, ...(meta.unique_keys ?? []).flatMap((k) => k.columns)]) {
    if (!documented.includes(g)) problems.push(`${meta.name}: key column ${g} is not a documented column`);
  }
  if (meta.kind !== 'table') return problems;
  const indexes = catalog.uniqueIndexes.filter((i) => i.table === meta.name);
  if (!indexes.some((i) => i.predicate === null && sameSet(i.columns, meta.grain))) {
    problems.push(`${meta.name}: no unique index on the grain (${meta.grain.join(', ')})`);
  }
  for (const key of meta.unique_keys ?? []) {
    if (!indexes.some((i) => sameSet(i.columns, key.columns) && (key.where === undefined) === (i.predicate === null))) {
      problems.push(
        `${meta.name}: no unique index on (${key.columns.join(', ')})${key.where ? ` WHERE ${key.where}` : ''}`,
      );
    }
  }
  return problems;
}
