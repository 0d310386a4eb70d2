/**
 * A run's progress events, kept so that every iterator sees the run from its first event
 * even when it starts iterating late (the run handle is returned before anyone can listen).
 * The log lives as long as the run stays in the engine's history.
 */
export class EventLog<E> {
  private readonly events: E[] = [];
  private closed = false;
  private wake: (() => void)[] = [];

  push(e: E): void {
    if (this.closed) return;
    this.events.push(e);
    this.notify();
  }

  /** No more events: iterators end after the ones they have not yet seen. */
  close(): void {
    this.closed = true;
    this.notify();
  }

  get length(): number {
    return this.events.length;
  }

  private notify(): void {
    if (this.wake.length === 0) return;
    const w = this.wake;
    this.wake = [];
    for (const f of w) f();
  }

  async *iterate(): AsyncGenerator<E, void, undefined> {
    let i = 0;
    for (;;) {
      while (i < this.events.length) yield this.events[i++]!;
      if (this.closed) return;
      await new Promise<void>((r) => this.wake.push(r));
    }
  }
}
