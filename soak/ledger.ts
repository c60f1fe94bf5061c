/**
 * What the harness sent, record by record: its id (the reading_id every simulated record carries
 * in its bytes, or the id written at the head of a hostile record), the door it went through, the
 * outcome its producer labelled it with, when it was sent and whether (and when) the door
 * acknowledged it to its sender. The verdict (verdict.ts) holds the database against this.
 */
import type { ExpectedOutcome } from '#domain/fleet.js';

export const DOORS = ['producer', 'mqtt', 'kafka', 'hostile'] as const;
export type Door = (typeof DOORS)[number];

/** A simulated record's outcome (a device's own fault too), or `HOSTILE`: any error row is right, a reading is not. */
export type Expectation = ExpectedOutcome | 'IDENTITY_MISMATCH' | 'HOSTILE';

export interface Entry {
  readonly door: Door;
  readonly expected: Expectation;
  readonly sentAt: number;
  ackedAt?: number;
}

export class Ledger {
  readonly entries = new Map<string, Entry>();
  readonly counts = { sent: 0, acked: 0, sendErrors: 0 };
  lastSendError = '';

  sent(id: string, door: Door, expected: Expectation, sentAt = Date.now()): void {
    if (this.entries.has(id)) throw new Error(`the harness generated id ${id} twice: its seeds overlap`);
    this.entries.set(id, { door, expected, sentAt });
    this.counts.sent++;
  }

  acked(id: string, at = Date.now()): void {
    const entry = this.entries.get(id);
    if (!entry || entry.ackedAt !== undefined) return;
    entry.ackedAt = at;
    this.counts.acked++;
  }

  sendError(error: unknown): void {
    this.counts.sendErrors++;
    this.lastSendError = error instanceof Error ? error.message : String(error);
  }
}
