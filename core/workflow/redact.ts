/**
 * Keeping secrets out of messages. The rule everywhere: redact first, then cut. Cutting first
 * can leave the head of a key at the end of a message, which no exact-match replacement then
 * finds (a 300-character cut printed 25 of a key's 26 characters).
 */

/** Any piece of a secret this long or longer is redacted, wherever it starts or ends. */
export const SECRET_PIECE_CHARS = 8;
/** Secrets shorter than this are not searched for: they would mask ordinary words. */
const MIN_SECRET_CHARS = 4;
const MASK = '***';

/**
 * `text` with every occurrence of each secret, and of every piece of it at least
 * SECRET_PIECE_CHARS long (a prefix, a suffix, the middle: what a server that echoes part of
 * a key, or a cut, leaves of it), replaced by `***`.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  const ranges: [number, number][] = [];
  for (const secret of secrets) {
    if (!secret || secret.length < MIN_SECRET_CHARS) continue;
    const len = Math.min(SECRET_PIECE_CHARS, secret.length);
    const seen = new Set<string>();
    for (let w = 0; w + len <= secret.length; w++) {
      const piece = secret.slice(w, w + len);
      if (seen.has(piece)) continue;
      seen.add(piece);
      for (let at = text.indexOf(piece); at !== -1; at = text.indexOf(piece, at + 1)) ranges.push([at, at + len]);
    }
  }
  if (!ranges.length) return text;
  ranges.sort((a, b) => a[0] - b[0]);
  let out = '';
  let pos = 0;
  let cur = ranges[0]!;
  const flush = () => {
    out += text.slice(pos, cur[0]) + MASK;
    pos = cur[1];
  };
  for (let i = 1; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (r[0] <= cur[1]) cur = [cur[0], Math.max(cur[1], r[1])];
    else {
      flush();
      cur = r;
    }
  }
  flush();
  return out + text.slice(pos);
}

/** Whether `text` holds any secret, or any piece of one SECRET_PIECE_CHARS long (what `redactSecrets` would mask). */
export function holdsSecret(text: string, secrets: readonly (string | undefined)[]): boolean {
  for (const secret of secrets) {
    if (!secret || secret.length < MIN_SECRET_CHARS) continue;
    const len = Math.min(SECRET_PIECE_CHARS, secret.length);
    for (let w = 0; w + len <= secret.length; w++) if (text.includes(secret.slice(w, w + len))) return true;
  }
  return false;
}

/** At most `max` characters, with `…` when cut; never splits a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return text.slice(0, end) + '…';
}

/** Provider text for a message: whitespace folded, secrets redacted, then cut. */
export function quoteSafely(text: string, secrets: readonly (string | undefined)[], max: number): string {
  return cutText(redactSecrets(text.replace(/\s+/g, ' ').trim(), secrets), max);
}

/**
 * A URL fit for a message: user and password (`https://user:secret@host`) and query values
 * (`?api-key=...`) replaced by `***`. Text that is not a URL gets the same treatment by pattern.
 */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return String(url)
      .replace(/\/\/[^/?#@]*@/, `//${MASK}@`)
      .replace(/([?&][^=&#]*)=[^&#]*/g, `$1=${MASK}`);
  }
  if (u.username || u.password) {
    u.username = MASK;
    u.password = '';
  }
  if (u.search) {
    const params = new URLSearchParams(u.search);
    const keys = [...new Set([...params.keys()])];
    u.search = keys.map((k) => `${encodeURIComponent(k)}=${MASK}`).join('&');
  }
  // URL encodes `*` in the user part: show the mask as written.
  return u.href.replace(/%2A%2A%2A/gi, MASK);
}
