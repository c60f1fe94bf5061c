/**
 * A write-ahead journal that makes the embedded SQS (fauxqs 1.9.2, in memory) durable across
 * restarts, crashes and `kill -9`.
 *
 * Why: the validator acknowledges a Kinesis record as soon as its rejection message is accepted
 * by SQS (docs/DESIGN.md section 5). With an in-memory queue, a stop or crash before the drainer has
 * landed that message in `sensor_errors` would lose the record for good. fauxqs 2.x persists
 * queues, but needs Node 22.5 (`node:sqlite`); the project must keep working on Node 20.
 *
 * How: fauxqs reports every queue event synchronously, inside the request that causes it,
 * through its message spy (`enqueue` -> "published", `deleteMessage` -> "consumed", a redrive
 * -> "dlq" on the source queue immediately followed by "published" on the DLQ). Each event is
 * appended to `<state>/sqs-journal.ndjson` (one JSON line) before fauxqs answers the call, so a
 * message fauxqs has acknowledged is always in the journal. On start the journal is read, the
 * outstanding messages (published, not yet consumed nor moved) are sent again to their queues
 * and the journal is compacted to just those.
 *
 * Durability levels: a line written with `writeSync` is in the OS page cache, so it survives the
 * death of this process (SIGKILL, a crash, Ctrl-C) but not a power loss of the machine. With
 * `fsync` on (the default) the journal is also fsync'ed once per SQS request that published
 * something, before fauxqs replies; that covers a power loss too. Measured here: about 3 µs per
 * event for the write, about 0.2-0.3 ms per fsync, i.e. ~25 µs per message for a full
 * SendMessageBatch of 10 (see runtime/README.md), which the pipeline's error rate affords.
 *
 * Re-sent messages get new message ids; a message may also be delivered twice (a crash between
 * its re-send and the journal line that retires the old copy, or a consumer killed after its
 * writes but before its DeleteMessage). That is harmless here: the drainer's writes are
 * idempotent by stream position (unique (stream_name, shard_id, sequence_number)).
 *
 * Not covered: PurgeQueue and DeleteQueue are not reported by fauxqs' spy, so messages purged
 * since the last start come back after a restart; FIFO queues are not replayed (the spy does not
 * report message group ids), their outstanding messages stay in the journal and are logged.
 */

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';
import {
  GetQueueUrlCommand,
  type MessageAttributeValue as SdkAttributeValue,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** A message attribute as fauxqs keeps it (the SQS JSON protocol's shape: binary as base64). */
export interface JournalAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

/** An outstanding message: published to `queue` and not yet consumed or moved to a DLQ. */
export interface JournaledMessage {
  readonly queue: string;
  readonly id: string;
  readonly body: string;
  readonly attributes?: Readonly<Record<string, JournalAttribute>>;
}

/** The SQS events of fauxqs' spy (`SqsSpyMessage`, declared in the fauxqs package's dist/spy.d.ts) the journal reads. */
export interface SqsQueueEvent {
  readonly service: string;
  readonly queueName?: string;
  readonly messageId?: string;
  readonly body?: string;
  readonly messageAttributes?: Record<string, JournalAttribute>;
  readonly status?: string;
}

/**
 * One journal line. `put`: a message is in queue `q` (when `from` is set it left queue `from` in
 * the same step: a redrive, kept in one line so that a kill between two writes cannot drop the
 * message from both queues). `del`: the message left `q` (consumed, or replaced by its re-sent
 * copy after a restart).
 */
type JournalLine =
  | { op: 'put'; q: string; id: string; body: string; attrs?: Record<string, JournalAttribute>; from?: string }
  | { op: 'del'; q: string; id: string; why: 'consumed' | 'replayed' };

export interface SqsJournalOptions {
  readonly file: string;
  /** Compact while running once the file has grown past this size (and past twice its compacted size). Default 4 MiB. */
  readonly compactAtBytes?: number;
  /** fsync once per SQS request that published something (survives a power loss). Default true. */
  readonly fsync?: boolean;
  readonly log?: (line: string) => void;
}

const key = (queue: string, id: string): string => `${queue}\n${id}`;

/**
 * Reads journal text into the outstanding messages, in publish order. Lines that do not parse
 * are skipped and counted: after a crash only the last line can be cut short (each line is one
 * write), and the message it named was never acknowledged to its sender.
 */
export function readJournal(text: string): { outstanding: Map<string, JournaledMessage>; skipped: number } {
  const outstanding = new Map<string, JournaledMessage>();
  let skipped = 0;
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    let line: JournalLine;
    try {
      line = JSON.parse(raw) as JournalLine;
    } catch {
      skipped++;
      continue;
    }
    if (typeof line !== 'object' || line === null || typeof line.q !== 'string' || typeof line.id !== 'string') {
      skipped++;
      continue;
    }
    if (line.op === 'put' && typeof line.body === 'string') {
      if (line.from !== undefined) outstanding.delete(key(line.from, line.id));
      outstanding.set(key(line.q, line.id), {
        queue: line.q,
        id: line.id,
        body: line.body,
        ...(line.attrs ? { attributes: line.attrs } : {}),
      });
    } else if (line.op === 'del') {
      outstanding.delete(key(line.q, line.id));
    } else {
      skipped++;
    }
  }
  return { outstanding, skipped };
}

function putLine(m: JournaledMessage, from?: string): string {
  const line: JournalLine = { op: 'put', q: m.queue, id: m.id, body: m.body };
  if (m.attributes && Object.keys(m.attributes).length > 0) line.attrs = { ...m.attributes };
  if (from !== undefined) line.from = from;
  return `${JSON.stringify(line)}\n`;
}

export class SqsJournal {
  readonly stats = { events: 0, bytesWritten: 0, fsyncs: 0, compactions: 0 };
  /** What the last start found: messages to re-send and unreadable lines skipped. */
  readonly recovered: { readonly outstanding: number; readonly skipped: number };
  private readonly outstandingByKey: Map<string, JournaledMessage>;
  private fd: number;
  private size = 0;
  private compactedSize = 0;
  private flushQueued = false;
  /** A "dlq" event waiting for the "published" on the DLQ that fauxqs reports right after it. */
  private pendingMove: { queue: string; id: string } | undefined;
  private closed = false;

  private constructor(
    private readonly options: SqsJournalOptions,
    outstanding: Map<string, JournaledMessage>,
    skipped: number,
  ) {
    this.outstandingByKey = outstanding;
    this.recovered = { outstanding: outstanding.size, skipped };
    this.fd = -1;
    this.compact();
  }

  /** Reads the journal (if any), keeps what is outstanding and compacts the file to just that. */
  static open(options: SqsJournalOptions): SqsJournal {
    mkdirSync(path.dirname(options.file), { recursive: true });
    const text = existsSync(options.file) ? readFileSync(options.file, 'utf8') : '';
    const { outstanding, skipped } = readJournal(text);
    if (skipped > 0)
      options.log?.(
        `sqs journal: ${skipped} unreadable line(s) skipped in ${options.file} (a write cut short by a crash)`,
      );
    return new SqsJournal(options, outstanding, skipped);
  }

  get file(): string {
    return this.options.file;
  }

  /** The messages published and not yet consumed or moved, in publish order. */
  outstanding(): JournaledMessage[] {
    return [...this.outstandingByKey.values()];
  }

  /**
   * Records one fauxqs spy event. Called synchronously inside the request that causes it, so
   * the line is written before fauxqs answers. A failed write of a client's publish throws:
   * fauxqs then fails the SendMessage call (before the message is queued) and the sender
   * retries, rather than being told "accepted" for a message the journal does not hold.
   */
  record(event: SqsQueueEvent): void {
    if (this.closed || event.service !== 'sqs' || !event.queueName || !event.messageId) return;
    const { queueName: queue, messageId: id } = event;
    this.stats.events++;
    if (event.status === 'dlq') {
      // Written together with the DLQ's "published" that follows (one line, see JournalLine).
      this.pendingMove = { queue, id };
      return;
    }
    if (event.status === 'published') {
      const from = this.pendingMove?.id === id ? this.pendingMove.queue : undefined;
      this.pendingMove = undefined;
      const message: JournaledMessage = {
        queue,
        id,
        body: event.body ?? '',
        ...(event.messageAttributes ? { attributes: event.messageAttributes } : {}),
      };
      if (from !== undefined) this.outstandingByKey.delete(key(from, id));
      this.outstandingByKey.set(key(queue, id), message);
      try {
        this.append(putLine(message, from));
      } catch (error) {
        // A redrive happens inside ReceiveMessage: throwing would drop the message from fauxqs'
        // memory as well. The journal still has it in its source queue, so a restart re-sends it.
        if (from !== undefined) this.options.log?.(`sqs journal: cannot record a redrive: ${(error as Error).message}`);
        else throw error;
      }
      this.scheduleFsync();
    } else if (event.status === 'consumed') {
      this.outstandingByKey.delete(key(queue, id));
      // Not fsync'ed and not fatal: a lost "del" only means one harmless redelivery after a restart.
      this.appendQuietly({ op: 'del', q: queue, id, why: 'consumed' });
    } else {
      return;
    }
    if (this.size > Math.max(this.options.compactAtBytes ?? 4 * 1024 * 1024, 2 * this.compactedSize)) this.compact();
  }

  /** The message was sent again under a new id (recorded by its own "published"); retire the old copy. */
  replaced(message: JournaledMessage): void {
    this.outstandingByKey.delete(key(message.queue, message.id));
    this.appendQuietly({ op: 'del', q: message.queue, id: message.id, why: 'replayed' });
  }

  /**
   * Rewrites the file with the outstanding messages only: a temporary file, fsync'ed, renamed
   * over the journal (atomic), then the folder fsync'ed. Synchronous, so no event can come in
   * between the snapshot and the switch to the new file.
   */
  compact(): void {
    if (this.closed) return;
    const tmp = `${this.options.file}.tmp`;
    const text = [...this.outstandingByKey.values()].map((m) => putLine(m)).join('');
    const tmpFd = openSync(tmp, 'w');
    try {
      writeSync(tmpFd, text);
      fsyncSync(tmpFd);
    } finally {
      closeSync(tmpFd);
    }
    renameSync(tmp, this.options.file);
    syncDirectory(path.dirname(this.options.file));
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = openSync(this.options.file, 'a');
    this.size = this.compactedSize = Buffer.byteLength(text);
    this.stats.compactions++;
  }

  close(): void {
    if (this.closed) return;
    if (this.flushQueued) this.fsyncNow();
    this.closed = true;
    closeSync(this.fd);
  }

  private append(line: string): void {
    writeSync(this.fd, line);
    const bytes = Buffer.byteLength(line);
    this.size += bytes;
    this.stats.bytesWritten += bytes;
  }

  private appendQuietly(line: JournalLine): void {
    try {
      this.append(`${JSON.stringify(line)}\n`);
    } catch (error) {
      this.options.log?.(`sqs journal: cannot append: ${(error as Error).message}`);
    }
  }

  /**
   * One fsync per request rather than per message: the microtask runs once the synchronous
   * request handler has recorded all its events (a SendMessageBatch publishes up to 10) and
   * before fauxqs' `await handler(...)` continuation sends the reply.
   */
  private scheduleFsync(): void {
    if (this.options.fsync === false || this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.fsyncNow());
  }

  private fsyncNow(): void {
    this.flushQueued = false;
    if (this.closed) return;
    try {
      fsyncSync(this.fd);
      this.stats.fsyncs++;
    } catch (error) {
      this.options.log?.(`sqs journal: fsync failed: ${(error as Error).message}`);
    }
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some platforms (Windows) cannot open a folder for fsync; the rename is still atomic.
  }
}

/** The part of fauxqs' `MessageSpy` the journal hooks (fauxqs/dist/spy.js; not in its public typings). */
interface SpyWithAddMessage {
  addMessage(message: SqsQueueEvent): void;
}

/**
 * Routes fauxqs' spy events into the journal. The spy object is the only synchronous hook fauxqs
 * 1.9.2 offers: `startFauxqs({ messageSpies })` gives the same `MessageSpy` instance to the store
 * and to every queue, which call `spy.addMessage(event)` inside the request, so wrapping that
 * instance's method sees every event of every queue (also queues created later). The spy's
 * own behaviour (its buffer, `waitForMessage`) is kept. Fails loudly if a fauxqs upgrade changes
 * this, rather than silently running without durability.
 */
export function attachJournal(spy: unknown, journal: SqsJournal): void {
  const target = spy as Partial<SpyWithAddMessage> | null;
  const original = target?.addMessage;
  if (!target || typeof original !== 'function')
    throw new Error('fauxqs spy has no addMessage(): the SQS journal cannot hook this fauxqs version');
  target.addMessage = (message: SqsQueueEvent): void => {
    journal.record(message);
    original.call(target, message);
  };
}

const MAX_BATCH_BYTES = 250 * 1024;

function toSdkAttributes(
  attrs: Readonly<Record<string, JournalAttribute>> | undefined,
): Record<string, SdkAttributeValue> | undefined {
  if (!attrs || Object.keys(attrs).length === 0) return undefined;
  const out: Record<string, SdkAttributeValue> = {};
  for (const [name, a] of Object.entries(attrs)) {
    out[name] = {
      DataType: a.DataType,
      ...(a.StringValue !== undefined ? { StringValue: a.StringValue } : {}),
      ...(a.BinaryValue !== undefined ? { BinaryValue: Buffer.from(a.BinaryValue, 'base64') } : {}),
    };
  }
  return out;
}

/**
 * Sends the journal's outstanding messages again to their queues (body and attributes kept,
 * new message ids), each queue in publish order, and retires each old copy once its new one is
 * accepted. Must run after the queues exist and before anything polls them. A message whose
 * queue is missing or which SQS refuses stays in the journal for the next start.
 */
export async function replayJournal(
  journal: SqsJournal,
  sqs: SQSClient,
  log: (line: string) => void = () => undefined,
): Promise<{ replayed: number; kept: number }> {
  const byQueue = new Map<string, JournaledMessage[]>();
  for (const m of journal.outstanding()) byQueue.set(m.queue, [...(byQueue.get(m.queue) ?? []), m]);
  let replayed = 0;
  let kept = 0;
  for (const [queue, messages] of byQueue) {
    let url: string | undefined;
    try {
      url = (await sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl;
    } catch (error) {
      log(
        `sqs journal: queue ${queue} does not exist (${(error as Error).name}); its ${messages.length} message(s) are kept for a later start`,
      );
    }
    if (!url) {
      kept += messages.length;
      continue;
    }
    let i = 0;
    while (i < messages.length) {
      const batch: JournaledMessage[] = [];
      let bytes = 0;
      while (i < messages.length && batch.length < 10) {
        const m = messages[i] as JournaledMessage;
        const size = Buffer.byteLength(m.body) + JSON.stringify(m.attributes ?? {}).length;
        if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
        batch.push(m);
        bytes += size;
        i++;
      }
      try {
        const out = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: batch.map((m, j) => {
              const attributes = toSdkAttributes(m.attributes);
              return { Id: String(j), MessageBody: m.body, ...(attributes ? { MessageAttributes: attributes } : {}) };
            }),
          }),
        );
        for (const ok of out.Successful ?? []) {
          const m = batch[Number(ok.Id)];
          if (m) {
            journal.replaced(m);
            replayed++;
          }
        }
        for (const failed of out.Failed ?? [])
          log(
            `sqs journal: re-sending a message to ${queue} failed (${failed.Code}: ${failed.Message}); kept for a later start`,
          );
        kept += out.Failed?.length ?? 0;
      } catch (error) {
        log(
          `sqs journal: re-sending ${batch.length} message(s) to ${queue} failed (${(error as Error).message}); kept for a later start`,
        );
        kept += batch.length;
      }
    }
  }
  return { replayed, kept };
}
