import { DqSyntaxError } from './errors.js';
import type { SourcePos } from './model.js';

/** Soda freshness durations: `d`, `h` and `m` parts in that order, e.g. `1d12h`, `5m`, `2h30m`. */
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/;

export function parseDurationSeconds(text: string, pos: SourcePos): number {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === '') {
    throw new DqSyntaxError(pos, `unsupported duration "${text}" (use d, h and m parts, e.g. 1d12h, 30m)`);
  }
  return Number(m[1] ?? 0) * 86_400 + Number(m[2] ?? 0) * 3_600 + Number(m[3] ?? 0) * 60;
}

/** Renders seconds the way the durations are written: `1d2h3m4s` (seconds only when non-zero). */
export function formatDuration(totalSeconds: number): string {
  const sign = totalSeconds < 0 ? '-' : '';
  let s = Math.round(Math.abs(totalSeconds));
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3_600);
  s -= h * 3_600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const out = `${d ? `${d}d` : ''}${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return sign + (out || '0s');
}
