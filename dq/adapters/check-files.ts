/**
 * Finding and reading check files: explicit files, directories (every *.yml / *.yaml inside,
 * sorted, so runs are reproducible), or the project's `soda/checks` by default.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CheckFileSource } from '#dq/core/runner.js';

/** `soda/checks` of this checkout (dq/ sits beside soda/ in the source tree). */
export const DEFAULT_CHECKS_DIR = fileURLToPath(new URL('../../soda/checks', import.meta.url));

export async function loadCheckFiles(paths: readonly string[], cwd = process.cwd()): Promise<CheckFileSource[]> {
  const out: CheckFileSource[] = [];
  for (const p of paths.length > 0 ? paths : [DEFAULT_CHECKS_DIR]) {
    const absolute = path.resolve(cwd, p);
    const info = await stat(absolute);
    const files = info.isDirectory()
      ? (await readdir(absolute))
          .filter((f) => /\.ya?ml$/.test(f))
          .sort()
          .map((f) => path.join(absolute, f))
      : [absolute];
    for (const f of files) {
      const shown = path.relative(cwd, f);
      out.push({ path: shown.startsWith('..') ? f : shown, text: await readFile(f, 'utf8') });
    }
  }
  return out;
}
