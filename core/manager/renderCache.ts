/**
 * The render cache: an LRU of rendered prompt text bounded both by entry count and by bytes,
 * so that a few huge prompts cannot blow the memory budget any more than many small ones.
 *
 * Size accounting: an entry costs `2 * (key.length + text.length) + ENTRY_OVERHEAD_BYTES`,
 * i.e. UTF-16 code units (the most V8 stores for a string) plus a fixed allowance for the map
 * slot and list node. It is an upper estimate, so the real heap stays under `maxBytes`.
 */

export const ENTRY_OVERHEAD_BYTES = 96;

export interface RenderCacheOptions {
  maxEntries: number;
  maxBytes: number;
}

export interface RenderCacheStats {
  entries: number;
  bytes: number;
  maxEntries: number;
  maxBytes: number;
  hits: number;
  misses: number;
  evictions: number;
  hitRate: number;
}

/** A node of the recency list: `prev` is older, `next` is younger. */
interface Entry {
  key: string;
  template: string;
  text: string;
  bytes: number;
  prev: Entry | undefined;
  next: Entry | undefined;
}

export function entryBytes(key: string, text: string): number {
  return 2 * (key.length + text.length) + ENTRY_OVERHEAD_BYTES;
}

export class RenderCache {
  // A Map for lookup plus a doubly linked recency list: a hit relinks one node and eviction
  // unlinks the oldest, both O(1). (Re-inserting into a Map to track recency is O(1) too, but
  // evicting through `map.keys().next()` then walks over every deleted slot at the front of
  // V8's ordered table: measured 100+ µs per miss at 5,000 entries.)
  private readonly map = new Map<string, Entry>();
  private oldest: Entry | undefined;
  private youngest: Entry | undefined;
  private size = 0;
  hits = 0;
  misses = 0;
  evictions = 0;
  readonly maxEntries: number;
  readonly maxBytes: number;

  constructor(options: RenderCacheOptions) {
    this.maxEntries = Math.max(0, Math.floor(options.maxEntries));
    this.maxBytes = Math.max(0, Math.floor(options.maxBytes));
  }

  /**
   * The key of one rendering: the template's render key (EngineSnapshot.renderKeys: new
   * whenever the template or a partial it includes changes, so a changed template never answers
   * with its old text) and the context hash.
   */
  static key(renderKey: number, contextHash: string): string {
    return renderKey + ':' + contextHash;
  }

  get bytes(): number {
    return this.size;
  }
  get entries(): number {
    return this.map.size;
  }

  get(key: string): string | undefined {
    const e = this.map.get(key);
    if (e === undefined) {
      this.misses++;
      return undefined;
    }
    if (e !== this.youngest) {
      this.unlink(e);
      this.append(e);
    }
    this.hits++;
    return e.text;
  }

  /** Stores a rendering; one larger than the whole byte budget is not stored at all. */
  set(key: string, template: string, text: string): boolean {
    const bytes = entryBytes(key, text);
    if (bytes > this.maxBytes || this.maxEntries === 0) return false;
    // Handlebars output is a rope of every piece it concatenated: retained as is, a
    // 1,250-character prompt was measured holding 9.6 KB (1.5 KB flat), which would make the
    // byte bound a fiction and the old generation a GC burden. Reading a character makes V8
    // flatten the string in place (one copy, cheaper than the GC work it saves).
    text.charCodeAt(0);
    const old = this.map.get(key);
    if (old) this.remove(old);
    const e: Entry = { key, template, text, bytes, prev: undefined, next: undefined };
    this.map.set(key, e);
    this.append(e);
    this.size += bytes;
    while (this.map.size > this.maxEntries || this.size > this.maxBytes) {
      this.remove(this.oldest!);
      this.evictions++;
    }
    return true;
  }

  /** Drops every rendering of the given templates (they, or a partial they use, changed). */
  deleteTemplates(names: ReadonlySet<string>): number {
    let n = 0;
    for (let e = this.oldest; e !== undefined; ) {
      const next = e.next;
      if (names.has(e.template)) {
        this.remove(e);
        n++;
      }
      e = next;
    }
    return n;
  }

  clear(): void {
    this.map.clear();
    this.oldest = this.youngest = undefined;
    this.size = 0;
  }

  private remove(e: Entry): void {
    this.unlink(e);
    this.map.delete(e.key);
    this.size -= e.bytes;
  }

  private unlink(e: Entry): void {
    if (e.prev) e.prev.next = e.next;
    else this.oldest = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.youngest = e.prev;
    e.prev = e.next = undefined;
  }

  private append(e: Entry): void {
    e.prev = this.youngest;
    if (this.youngest) this.youngest.next = e;
    else this.oldest = e;
    this.youngest = e;
  }

  stats(): RenderCacheStats {
    const lookups = this.hits + this.misses;
    return {
      entries: this.map.size,
      bytes: this.size,
      maxEntries: this.maxEntries,
      maxBytes: this.maxBytes,
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      hitRate: lookups ? this.hits / lookups : 0,
    };
  }
}
