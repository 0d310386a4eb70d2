/**
 * Heaps. `Heap`: a binary heap of any items by a comparison (the admission scheduler's calls
 * waiting in one run). `StepHeap`: the ready steps of a run, ordered by a priority array with
 * ties to the lower index (declaration order), so that the choice among them is deterministic.
 */

/** A binary heap of any items: `before(a, b)` is true when `a` comes out first. */
export class Heap<T> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    const h = this.items;
    h.push(x);
    let c = h.length - 1;
    while (c > 0) {
      const p = (c - 1) >> 1;
      if (!this.before(h[c]!, h[p]!)) break;
      [h[c], h[p]] = [h[p]!, h[c]!];
      c = p;
    }
  }

  pop(): T | undefined {
    const h = this.items;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let p = 0;
      for (;;) {
        const l = 2 * p + 1;
        const r = l + 1;
        let m = p;
        if (l < h.length && this.before(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.before(h[r]!, h[m]!)) m = r;
        if (m === p) break;
        [h[m], h[p]] = [h[p]!, h[m]!];
        p = m;
      }
    }
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

/** Step indexes, the highest priority first, ties to the lower index (declaration order). */
export class StepHeap extends Heap<number> {
  constructor(priority: ArrayLike<number>) {
    super((a, b) => {
      const pa = priority[a]!;
      const pb = priority[b]!;
      return pa > pb || (pa === pb && a < b);
    });
  }
}
