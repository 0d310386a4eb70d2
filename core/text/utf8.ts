/**
 * Where bytes that are not UTF-8 (a file saved as Latin-1) were read as U+FFFD, or -1: the
 * file's text then silently differs from what its author wrote.
 */
export function invalidUtf8At(text: string): number {
  return text.indexOf('\uFFFD');
}
