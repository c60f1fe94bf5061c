/**
 * The LocalStack coverage table in infra/README.md has one row per resource type of the
 * `localstack` template: a new type (a door's API, topic rule, key...) fails here until someone
 * has looked it up in LocalStack's coverage documentation and added its row.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '#infra/pipeline-stack.js';
import { synthesize } from './synth.js';

const SECTION = '### LocalStack resource coverage';

/** Resource types in the first column of the table under {@link SECTION}. */
function tableRows(readme: string): Map<string, string[]> {
  const start = readme.indexOf(SECTION);
  if (start < 0) throw new Error(`infra/README.md has no "${SECTION}" section`);
  const rows = new Map<string, string[]>();
  for (const line of readme.slice(start).split('\n').slice(1)) {
    if (line.startsWith('#')) break;
    const cells = line.split('|').map((c) => c.trim());
    const type = cells[1];
    if (line.startsWith('|') && type && /^(AWS|Custom)::/.test(type)) rows.set(type, cells.slice(2, -1));
  }
  return rows;
}

let types: string[];
let rows: Map<string, string[]>;

beforeAll(() => {
  // With every optional part a setting adds (the alert e-mail subscription), so its type has a row too.
  const s = synthesize({ context: { target: 'localstack', alertEmail: 'ops@example.com' }, bundle: false });
  types = [...new Set(Object.values(s.json.Resources).map((r) => r.Type))].sort();
  rows = tableRows(readFileSync(path.join(PROJECT_ROOT, 'infra/README.md'), 'utf8'));
}, 180_000);

describe('LocalStack coverage table (infra/README.md)', () => {
  it('has a row for every resource type of the localstack template', () => {
    const missing = types.filter((t) => !rows.has(t));
    expect(missing, `add these to "${SECTION}" in infra/README.md`).toEqual([]);
  });

  it('has no row for a type the template no longer uses', () => {
    expect([...rows.keys()].filter((t) => !types.includes(t))).toEqual([]);
  });

  it('says for each row whether the free tier supports it', () => {
    for (const [type, cells] of rows) expect(['yes', 'no', 'partial'], type).toContain(cells[0]);
  });
});
