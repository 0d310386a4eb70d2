/**
 * Suggests the closest known name for a misspelt one: by edit distance, where adding or
 * dropping whole trailing segments of a name (`analysis/summary_nope` for `analysis/summary`)
 * counts as one edit per segment, so that the name the user extended wins over a sibling that
 * happens to be a few letters closer (`analysis/summary_simple`).
 */

export function editDistance(a: string, b: string, max = Infinity): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let twoBack: number[] | undefined;
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      // A transposition ("dpeends") counts as one edit, as people expect.
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) cur[j] = Math.min(cur[j]!, (twoBack?.[j - 2] ?? i) + 1);
      rowMin = Math.min(rowMin, cur[j]!);
    }
    if (rowMin > max) return max + 1;
    twoBack = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/** Names longer than this get no suggestion, and are suggested for nothing. */
const MAX_SUGGEST_LENGTH = 256;

/**
 * The closest candidate within a distance that grows with the name's length, or one that
 * starts the same way (`dependz` -> `depends_on`); undefined when nothing is close.
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  // The edit distance costs the product of the lengths: a hostile 1 MB name would take hours,
  // and nobody misspells a name that long in a way worth suggesting.
  if (name.length > MAX_SUGGEST_LENGTH) return undefined;
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestScore = Infinity;
  const limit = Math.max(2, Math.floor(name.length / 3));
  for (const c of candidates) {
    if (c === name || c.length > MAX_SUGGEST_LENGTH) continue;
    const cl = c.toLowerCase();
    let d = editDistance(lower, cl, limit + 4);
    // A shared stem of four or more characters is a strong hint even past the distance limit.
    const stem = commonPrefix(lower, cl);
    if (stem >= 4 && stem >= Math.min(lower.length, cl.length) - 2) d = Math.min(d, limit);
    const segments = extraSegments(lower, cl);
    if (segments !== undefined) d = Math.min(d, segments);
    if (d <= limit && d < bestScore) {
      best = c;
      bestScore = d;
    }
  }
  return best;
}

/** Characters that separate the segments of a name: `/` of folders, `_`, `-` and `.` of words. */
const SEPARATOR = /[/_.-]/;

/**
 * How many whole segments one name has beyond the other when the other is its start up to a
 * separator (`summary_nope` and `summary`: 1); undefined when neither is such a start, or the
 * shared start is too short (two letters) to say anything.
 */
export function extraSegments(a: string, b: string): number | undefined {
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  if (short.length < 3 || short.length === long.length || !long.startsWith(short)) return undefined;
  const rest = long.slice(short.length);
  if (!SEPARATOR.test(rest[0]!) || SEPARATOR.test(short[short.length - 1]!)) return undefined;
  return rest.split(SEPARATOR).filter(Boolean).length || undefined;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}
