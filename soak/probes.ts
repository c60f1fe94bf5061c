/**
 * What the harness reads from outside while a run goes on: each process's resident memory (from
 * /proc, grouped as the stack host, each function's containers, PostgreSQL, the harness itself),
 * the processes of one function (a crash fault picks its victim among them), and the database's
 * row count. Linux only: the soak runs where the embedded stack does.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { postgresDataDir } from '#runtime/embedded/postgres.js';

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly cmdline: string;
  readonly rssMb: number;
}

function readProc(pid: number): Proc | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return { pid, ppid, cmdline, rssMb: rssKb / 1024 };
  } catch {
    return undefined;
  }
}

function allProcesses(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

function descendants(all: readonly Proc[], root: number): Proc[] {
  const children = new Map<number, Proc[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p]);
  const out: Proc[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const pid = stack.pop() as number;
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      stack.push(c.pid);
    }
  }
  return out;
}

/** The function a container runs, from its command line (`…/lambdas/<name>/handler.ts`). */
function functionOf(cmdline: string): string | undefined {
  if (!cmdline.includes('container-entry')) return undefined;
  return /lambdas\/([^/\s]+)\/handler/.exec(cmdline)?.[1];
}

/** PIDs of the live containers of one function (`validator`, `dlq-drainer`, …) under the stack. */
export function containerPids(stackPid: number | undefined, fn: string): number[] {
  if (stackPid === undefined) return [];
  return descendants(allProcesses(), stackPid)
    .filter((p) => functionOf(p.cmdline) === fn)
    .map((p) => p.pid);
}

function postmasterPid(stateDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(postgresDataDir(stateDir), 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Resident memory in MB per group of processes, at one moment. */
export function memorySample(stackPid: number | undefined, stateDir: string): Record<string, number> {
  const all = allProcesses();
  const byPid = new Map(all.map((p) => [p.pid, p]));
  const groups: Record<string, number> = {};
  const add = (group: string, mb: number) => {
    groups[group] = Math.round(((groups[group] ?? 0) + mb) * 10) / 10;
  };
  add('harness (kinesalite, fauxqs, senders)', byPid.get(process.pid)?.rssMb ?? 0);
  if (stackPid !== undefined) {
    add('stack host (Lambda host, doors, API)', byPid.get(stackPid)?.rssMb ?? 0);
    for (const p of descendants(all, stackPid)) {
      const fn = functionOf(p.cmdline);
      if (fn) add(`containers: ${fn}`, p.rssMb);
    }
  }
  const pm = postmasterPid(stateDir);
  if (pm !== undefined) {
    add('postgres (all backends)', byPid.get(pm)?.rssMb ?? 0);
    for (const p of descendants(all, pm)) add('postgres (all backends)', p.rssMb);
  }
  return groups;
}
