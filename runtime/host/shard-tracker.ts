/**
 * Which records of one shard are acknowledged, and how far the checkpoint may move.
 *
 * With a parallelization factor above 1 the batches of one shard finish out of order. The
 * checkpoint may only pass a sequence number once every record up to it is acknowledged,
 * otherwise a restart would skip the records still in flight below it.
 */
export class ShardTracker {
  /** Fetched records in shard order, with their acknowledgement flags. */
  private readonly order: string[] = [];
  private readonly done = new Map<string, boolean>();
  private head = 0;

  /** Records fetched but not yet covered by the checkpoint. */
  get outstanding(): number {
    return this.order.length - this.head;
  }

  add(sequenceNumber: string): void {
    this.order.push(sequenceNumber);
    this.done.set(sequenceNumber, false);
  }

  /**
   * Marks records acknowledged; returns the new checkpoint (the last sequence number of the
   * fully acknowledged prefix) when it moved, otherwise undefined.
   */
  acknowledge(sequenceNumbers: Iterable<string>): string | undefined {
    for (const s of sequenceNumbers) if (this.done.has(s)) this.done.set(s, true);
    let moved: string | undefined;
    while (this.head < this.order.length) {
      const s = this.order[this.head] as string;
      if (!this.done.get(s)) break;
      this.done.delete(s);
      moved = s;
      this.head++;
    }
    if (this.head > 4096) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
    return moved;
  }
}
