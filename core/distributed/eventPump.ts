/**
 * Reads the event streams of the distributed runs this process watches (the ones it started or
 * attached to) with one blocking XREAD on a connection of its own, and hands each event on in
 * order. A run's stream is read from its first event, so a process that attaches late (or
 * restarted) sees the run from its start. A new watch wakes the blocked read through a stream
 * of this pump's own.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { WorkflowEvent } from '../workflow/types.js';

interface Watch {
  key: string;
  last: string;
  onEvent(e: WorkflowEvent): void;
}

type XReadReply = [string, [string, string[]][]][] | null;

export class EventPump {
  private readonly watches = new Map<string, Watch>();
  private readonly wakeKey: string;
  private wakeLast = '$';
  private closed = false;
  private loop?: Promise<void>;
  private idle?: () => void;

  constructor(
    /** A connection for the blocking reads only. */
    private readonly reader: Redis,
    /** Any other connection (wakes the reader). */
    private readonly writer: Redis,
    prefix: string,
  ) {
    this.wakeKey = `${prefix}:wake:${randomUUID()}`;
  }

  watch(runId: string, streamKey: string, onEvent: (e: WorkflowEvent) => void): void {
    if (this.closed) return;
    this.watches.set(runId, { key: streamKey, last: '0', onEvent });
    this.loop ??= this.run();
    if (this.idle) {
      const f = this.idle;
      this.idle = undefined;
      f();
    } else void this.writer.xadd(this.wakeKey, 'MAXLEN', '~', '10', '*', 'w', '1').catch(() => undefined);
  }

  unwatch(runId: string): void {
    this.watches.delete(runId);
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      if (this.watches.size === 0) {
        await new Promise<void>((r) => (this.idle = r));
        continue;
      }
      const ws = [...this.watches.entries()];
      let reply: XReadReply;
      try {
        reply = (await this.reader.xread('COUNT', 1000, 'BLOCK', 5000, 'STREAMS', ...ws.map(([, w]) => w.key), this.wakeKey, ...ws.map(([, w]) => w.last), this.wakeLast)) as XReadReply;
      } catch {
        if (this.closed) return;
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (!reply) continue;
      const byKey = new Map(ws.map(([, w]) => [w.key, w]));
      for (const [key, entries] of reply) {
        if (key === this.wakeKey) {
          if (entries.length) this.wakeLast = entries[entries.length - 1]![0];
          continue;
        }
        const w = byKey.get(key);
        if (!w) continue;
        for (const [id, fields] of entries) {
          w.last = id;
          const raw = fields[1];
          if (raw === undefined) continue;
          let e: WorkflowEvent;
          try {
            e = JSON.parse(raw) as WorkflowEvent;
          } catch {
            continue;
          }
          try {
            w.onEvent(e);
          } catch {
            // A listener's bug must not stop the other runs' events.
          }
        }
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watches.clear();
    this.idle?.();
    this.reader.disconnect();
    await this.writer.del(this.wakeKey).catch(() => undefined);
    await this.loop?.catch(() => undefined);
  }
}
