/**
 * HTTP pieces shared by the `openai-compatible` executor and its probe: reading an answer
 * with a byte limit, and taking credentials out of a base_url.
 */

/** The body, read as it arrives; past `limit` bytes the read stops and `over` is set. */
export async function readLimited(res: Response, limit: number, stop: () => void): Promise<{ text: string; over: boolean }> {
  if (!res.body) return { text: '', over: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      chunks.push(value.subarray(0, value.byteLength - (total - limit)));
      stop();
      await reader.cancel().catch(() => undefined);
      return { text: Buffer.concat(chunks).toString('utf8'), over: true };
    }
    chunks.push(value);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), over: false };
}

/** The user part of a base_url, taken out of the URL: sent as Basic authentication, redacted everywhere. */
export function takeCredentials(url: URL): { basic?: string; secret?: string } {
  if (!url.username && !url.password) return {};
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  // `https://TOKEN@host` carries the secret as the user name.
  return { basic: Buffer.from(`${user}:${pass}`).toString('base64'), secret: pass || user };
}
