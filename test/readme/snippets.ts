/**
 * The README's fenced code blocks, with the directive an HTML comment right before a block may
 * give (`<!-- snippet: skip (why) -->`), for test/readme/snippets.test.ts.
 */

export interface Snippet {
  /** 1-based line of the opening fence. */
  line: number;
  /** The info string's first word, lower-cased ('' when none). */
  lang: string;
  code: string;
  /** From `<!-- snippet: skip (why) -->` on the lines just before the fence (blank lines allowed). */
  skip?: string;
  /** A directive the test does not know (a typo must not silently skip a block). */
  unknownDirective?: string;
}

const DIRECTIVE = /^<!--\s*snippet:\s*(.*?)\s*-->$/;

export function extractSnippets(markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[2]!;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
      if (close.test(lines[j]!)) break;
      body.push(lines[j]!.startsWith(open[1]!) ? lines[j]!.slice(open[1]!.length) : lines[j]!);
    }
    const snippet: Snippet = { line: i + 1, lang: open[3]!.toLowerCase(), code: body.join('\n') + '\n' };
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === '') k--;
    const d = k >= 0 ? DIRECTIVE.exec(lines[k]!.trim()) : null;
    if (d) {
      const skip = /^skip\s*(?:\((.*)\))?$/.exec(d[1]!);
      if (skip) snippet.skip = (skip[1] ?? '').trim();
      else snippet.unknownDirective = d[1]!;
    }
    out.push(snippet);
    i = j;
  }
  return out;
}
