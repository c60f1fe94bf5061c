/**
 * Diagnostic probe (not part of `npm run bench`): where a V8 CPU profile spends its time, so
 * the e2e benchmark's profiles (`npm run bench -- --only e2e --cpu-prof`, the host under
 * `node --cpu-prof --import tsx bench/run.ts …`) can be read without a browser. Prints, per
 * profile, the share of samples by package or project folder (self time) and the top functions
 * by self time.
 *
 * Usage: npx tsx bench/probes/profile-summary.ts <file.cpuprofile | folder> [top N]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** The package (node_modules/<name>), project folder or `node:` module a script belongs to. */
function area(url: string): string {
  if (url === '') return '(native/idle/gc)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return url;
  const parts = url.replace(/^file:\/\//, '').split('/');
  const i = Math.max(parts.lastIndexOf('src'), parts.lastIndexOf('runtime'), parts.lastIndexOf('lambdas'));
  return i >= 0 ? parts.slice(i, i + 2).join('/') : url;
}

function summarize(file: string, top: number): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (const [i, id] of profile.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byArea = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const key = area(url);
    if (functionName === '(idle)') {
      byArea.set('(idle)', (byArea.get('(idle)') ?? 0) + us);
      continue;
    }
    byArea.set(key, (byArea.get(key) ?? 0) + us);
    const fn = `${functionName || '(anonymous)'} ${key}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
  }
  const idle = byArea.get('(idle)') ?? 0;
  const pct = (us: number): string => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  console.log(`\n${path.basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${pct(total - idle)} busy`);
  for (const [k, us] of [...byArea].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`  ${pct(us)}  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${k}`);
  console.log('  top functions (self):');
  for (const [k, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`  ${pct(us)}  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${k}`);
}

const target = process.argv[2];
if (!target) throw new Error('usage: profile-summary.ts <file.cpuprofile | folder> [top N]');
const top = Number(process.argv[3] ?? 15);
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(target, f))
  : [target];
for (const file of files) summarize(file, top);
