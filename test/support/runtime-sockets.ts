/**
 * The TCP sockets a process tree listens on, read from Linux's /proc (no `ss` or `lsof`
 * needed): every descendant of a process, the socket inodes among its open files, and the
 * LISTEN entries of /proc/net/tcp and /proc/net/tcp6 with those inodes.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface Listener {
  readonly pid: number;
  readonly address: string;
  readonly port: number;
}

/** `root` and every process descending from it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The command name is in parentheses and may hold spaces: the parent id follows the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(entry));
    children.set(ppid, list);
  }
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

function socketInodes(pid: number): string[] {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const inodes: string[] = [];
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.push(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** A /proc/net address: 32-bit words in host (little-endian) byte order, as hex. */
function decodeAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  const groups = Array.from({ length: 8 }, (_, i) =>
    (((bytes[2 * i] ?? 0) << 8) | (bytes[2 * i + 1] ?? 0)).toString(16),
  );
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') return `::ffff:${bytes.slice(12).join('.')}`;
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Listening TCP sockets by inode. */
function listeningByInode(): Map<string, { address: string; port: number }> {
  const out = new Map<string, { address: string; port: number }>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [local, state, inode] = [f[1], f[3], f[9]];
      if (state !== '0A' || !local || !inode) continue; // 0A: LISTEN
      const [addr = '', port = '0'] = local.split(':');
      out.set(inode, { address: decodeAddress(addr), port: Number.parseInt(port, 16) });
    }
  }
  return out;
}

/** Every TCP socket `root` or a descendant listens on. */
export function listenersOf(root: number): Listener[] {
  const listening = listeningByInode();
  const seen = new Set<string>();
  const out: Listener[] = [];
  for (const pid of processTree(root)) {
    for (const inode of socketInodes(pid)) {
      const socket = listening.get(inode);
      if (!socket || seen.has(inode)) continue;
      seen.add(inode);
      out.push({ pid, ...socket });
    }
  }
  return out;
}

export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./.test(address);
}
