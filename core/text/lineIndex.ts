/** Converts between offsets and zero-based line/character positions of one text (LSP's line model: `\r\n`, `\r` and `\n` end a line). */
import type { Position, Range } from './range.js';

export class LineIndex {
  private starts: number[] | undefined;

  constructor(readonly text: string) {}

  /** Offset at which each line starts; computed on first use, since most files need no position. */
  get lineStarts(): number[] {
    if (!this.starts) {
      const starts = [0];
      const text = this.text;
      if (!text.includes('\r')) {
        for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
      } else {
        // `\r\n`, a lone `\r` and `\n` each end a line, as in LSP, editors and YAML.
        for (let i = 0; i < text.length; i++) {
          const c = text.charCodeAt(i);
          if (c === 10) starts.push(i + 1);
          else if (c === 13) {
            if (text.charCodeAt(i + 1) === 10) i++;
            starts.push(i + 1);
          }
        }
      }
      this.starts = starts;
    }
    return this.starts;
  }

  get lineCount(): number {
    return this.lineStarts.length;
  }

  positionAt(offset: number): Position {
    let o = Math.max(0, Math.min(offset, this.text.length));
    // Between the `\r` and the `\n` of one line break is still the end of that line.
    if (o > 0 && this.text.charCodeAt(o) === 10 && this.text.charCodeAt(o - 1) === 13) o--;
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - this.lineStarts[lo]! };
  }

  offsetAt(pos: Position): number {
    if (pos.line < 0) return 0;
    if (pos.line >= this.lineStarts.length) return this.text.length;
    const start = this.lineStarts[pos.line]!;
    const next = pos.line + 1 < this.lineStarts.length ? this.lineStarts[pos.line + 1]! : this.text.length;
    return Math.min(start + Math.max(0, pos.character), next);
  }

  range(start: number, end: number): Range {
    return { start: this.positionAt(start), end: this.positionAt(Math.max(start, end)) };
  }

  /** The text of a range. */
  slice(range: Range): string {
    return this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end));
  }

  /** The text of a zero-based line, without its line break. */
  lineText(line: number): string {
    const s = this.lineStarts[line];
    if (s === undefined) return '';
    const e = line + 1 < this.lineStarts.length ? this.lineStarts[line + 1]! : this.text.length;
    return this.text.slice(s, e).replace(/(\r\n|\r|\n)$/, '');
  }
}
