/**
 * An open document that applies incremental changes without rebuilding its text each time.
 *
 * vscode-languageserver-textdocument rebuilds the whole string on every change (and reads it
 * at once, which makes V8 flatten it): on a 2 MB file each keystroke left 2 MB of garbage in
 * the old generation, and a fast typist drove the server past 300 MB RSS. Here the text is a
 * short list of parts (slices of the last full text and the inserted strings); changes split
 * parts, and the full text is built only when someone reads it (the validator, once per
 * debounced validation) or when the list grows long. Positions and line offsets follow the
 * library's rules exactly, CRLF edge cases included; a test holds the two to the same answers.
 */
import type { Position, Range, TextDocument, TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';

const LF = 10;
const CR = 13;
/** Past this many parts the text is rebuilt: lookups stay cheap, garbage stays 1/MAX_PARTS. */
const MAX_PARTS = 64;

export class LazyTextDocument implements TextDocument {
  private parts: string[];
  private length: number;
  private lineOffsets: number[] | undefined;

  constructor(
    readonly uri: string,
    readonly languageId: string,
    public version: number,
    content: string,
  ) {
    this.parts = [content];
    this.length = content.length;
  }

  static create(uri: string, languageId: string, version: number, content: string): LazyTextDocument {
    return new LazyTextDocument(uri, languageId, version, content);
  }

  static update(document: TextDocument, changes: TextDocumentContentChangeEvent[], version: number): TextDocument {
    if (!(document instanceof LazyTextDocument)) throw new TypeError('LazyTextDocument.update: not a LazyTextDocument');
    document.update(changes, version);
    return document;
  }

  get lineCount(): number {
    return this.getLineOffsets().length;
  }

  getText(range?: Range): string {
    if (range) return this.slice(this.offsetAt(range.start), this.offsetAt(range.end));
    return this.flatten();
  }

  update(changes: TextDocumentContentChangeEvent[], version: number): void {
    for (const change of changes) {
      if ('range' in change && change.range) {
        const range = wellFormed(change.range);
        const startOffset = this.offsetAt(range.start);
        const endOffset = this.offsetAt(range.end);
        this.splice(startOffset, endOffset, change.text);
        const insertedEnd = startOffset + change.text.length;
        const crlfAtStart = this.charCodeAt(startOffset - 1) === CR && this.charCodeAt(startOffset) === LF;
        const crlfAtEnd = this.charCodeAt(insertedEnd - 1) === CR && this.charCodeAt(insertedEnd) === LF;
        if (crlfAtStart || crlfAtEnd) {
          // A CRLF pair across an edit boundary: recount the lines when next needed.
          this.lineOffsets = undefined;
          continue;
        }
        const lineOffsets = this.lineOffsets;
        if (!lineOffsets) continue;
        const startLine = Math.max(range.start.line, 0);
        const endLine = Math.max(range.end.line, 0);
        const added = computeLineOffsets(change.text, false, startOffset);
        if (endLine - startLine === added.length) {
          for (let i = 0; i < added.length; i++) lineOffsets[i + startLine + 1] = added[i]!;
        } else if (added.length < 10000) {
          lineOffsets.splice(startLine + 1, endLine - startLine, ...added);
        } else {
          this.lineOffsets = lineOffsets.slice(0, startLine + 1).concat(added, lineOffsets.slice(endLine + 1));
        }
        const diff = change.text.length - (endOffset - startOffset);
        if (diff !== 0) {
          const offsets = this.lineOffsets!;
          for (let i = startLine + 1 + added.length; i < offsets.length; i++) offsets[i] = offsets[i]! + diff;
        }
      } else {
        this.parts = [change.text];
        this.length = change.text.length;
        this.lineOffsets = undefined;
      }
    }
    this.version = version;
  }

  positionAt(offset: number): Position {
    offset = Math.max(Math.min(offset, this.length), 0);
    const lineOffsets = this.getLineOffsets();
    let low = 0;
    let high = lineOffsets.length;
    if (high === 0) return { line: 0, character: offset };
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      if (lineOffsets[mid]! > offset) high = mid;
      else low = mid + 1;
    }
    const line = low - 1;
    offset = this.ensureBeforeEOL(offset, lineOffsets[line]!);
    return { line, character: offset - lineOffsets[line]! };
  }

  offsetAt(position: Position): number {
    const lineOffsets = this.getLineOffsets();
    if (position.line >= lineOffsets.length) return this.length;
    if (position.line < 0) return 0;
    const lineOffset = lineOffsets[position.line]!;
    if (position.character <= 0) return lineOffset;
    const nextLineOffset = position.line + 1 < lineOffsets.length ? lineOffsets[position.line + 1]! : this.length;
    const offset = Math.min(lineOffset + position.character, nextLineOffset);
    return this.ensureBeforeEOL(offset, lineOffset);
  }

  getLineRange(line: number): Range {
    const lineOffsets = this.getLineOffsets();
    if (line >= lineOffsets.length) {
      const lastLine = lineOffsets.length - 1;
      return { start: { line: lastLine, character: 0 }, end: { line: lastLine, character: this.length - lineOffsets[lastLine]! } };
    }
    if (line < 0) return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    const startOffset = lineOffsets[line]!;
    const nextLineOffset = line + 1 < lineOffsets.length ? lineOffsets[line + 1]! : this.length;
    const endOffset = this.ensureBeforeEOL(nextLineOffset, startOffset);
    return { start: { line, character: 0 }, end: { line, character: endOffset - startOffset } };
  }

  getEOLCharacters(line: number): string {
    const lineOffsets = this.getLineOffsets();
    if (line >= lineOffsets.length || line < 0) return '';
    const nextLineOffset = line + 1 < lineOffsets.length ? lineOffsets[line + 1]! : this.length;
    const eolOffset = this.ensureBeforeEOL(nextLineOffset, lineOffsets[line]!);
    return this.slice(eolOffset, nextLineOffset);
  }

  /** How many parts the text is held in now (for tests). */
  get partCount(): number {
    return this.parts.length;
  }

  private getLineOffsets(): number[] {
    if (this.lineOffsets === undefined) this.lineOffsets = computeLineOffsets(this.flatten(), true);
    return this.lineOffsets;
  }

  private ensureBeforeEOL(offset: number, lineOffset: number): number {
    while (offset > lineOffset && isEOL(this.charCodeAt(offset - 1))) offset--;
    return offset;
  }

  private flatten(): string {
    if (this.parts.length !== 1) this.parts = [this.parts.join('')];
    return this.parts[0]!;
  }

  /** The character code at `offset`, NaN outside the text (as String.prototype.charCodeAt). */
  private charCodeAt(offset: number): number {
    if (offset < 0 || offset >= this.length) return NaN;
    let at = 0;
    for (const p of this.parts) {
      if (offset < at + p.length) return p.charCodeAt(offset - at);
      at += p.length;
    }
    return NaN;
  }

  /** As String.prototype.substring: NaN is 0, offsets are clamped, a reversed pair is swapped. */
  private slice(start: number, end: number): string {
    start = Math.min(Math.max(Number.isNaN(start) ? 0 : start, 0), this.length);
    // An undefined end (a line offset past a corrupted table) means the end, as in substring.
    end = end === undefined ? this.length : Math.min(Math.max(Number.isNaN(end) ? 0 : end, 0), this.length);
    if (end < start) [start, end] = [end, start];
    if (end <= start) return '';
    let out = '';
    let at = 0;
    for (const p of this.parts) {
      const from = Math.max(start - at, 0);
      const to = Math.min(end - at, p.length);
      if (from < to) out += p.slice(from, to);
      at += p.length;
      if (at >= end) break;
    }
    return out;
  }

  /** Replaces [start, end) with `text` in the parts list. */
  private splice(start: number, end: number, text: string): void {
    const next: string[] = [];
    let at = 0;
    let inserted = false;
    for (const p of this.parts) {
      const pEnd = at + p.length;
      if (pEnd <= start || at >= end) {
        // Entirely before or after the replaced range (an empty range sits between parts).
        if (!inserted && at >= end && at >= start) {
          if (text) next.push(text);
          inserted = true;
        }
        if (p) next.push(p);
      } else {
        if (start > at) next.push(p.slice(0, start - at));
        if (!inserted) {
          if (text) next.push(text);
          inserted = true;
        }
        if (end < pEnd) next.push(p.slice(end - at));
      }
      at = pEnd;
    }
    if (!inserted && text) next.push(text);
    this.parts = next.length ? next : [''];
    this.length += text.length - (end - start);
    if (this.parts.length > MAX_PARTS) this.flatten();
  }
}

function wellFormed(range: Range): Range {
  const { start, end } = range;
  if (start.line > end.line || (start.line === end.line && start.character > end.character)) return { start: end, end: start };
  return range;
}

function isEOL(c: number): boolean {
  return c === CR || c === LF;
}

function computeLineOffsets(text: string, isAtLineStart: boolean, textOffset = 0): number[] {
  const result: number[] = isAtLineStart ? [textOffset] : [];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (isEOL(ch)) {
      if (ch === CR && i + 1 < text.length && text.charCodeAt(i + 1) === LF) i++;
      result.push(textOffset + i + 1);
    }
  }
  return result;
}
