/**
 * Reads db/metadata/*.yml and validates each file against the metadata schema; the comparison
 * with the catalog lives in `#dq/core/metadata.js`.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type TableMetadata, tableMetadataSchema } from '#dq/core/metadata.js';

export const METADATA_DIR = fileURLToPath(new URL('../../db/metadata', import.meta.url));

export async function loadMetadata(dir = METADATA_DIR): Promise<TableMetadata[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.yml')).sort();
  const out: TableMetadata[] = [];
  for (const f of files) {
    const parsed = tableMetadataSchema.safeParse(parse(await readFile(path.join(dir, f), 'utf8')));
    if (!parsed.success)
      throw new Error(`${f}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    if (`${parsed.data.name}.yml` !== f)
      throw new Error(`${f}: name is ${parsed.data.name}; the file must be named after its table`);
    out.push(parsed.data);
  }
  return out;
}
