/** Handlebars' source locations (1-based lines, 0-based columns) as zero-based Ranges, and their order. */
import type { Position, Range } from '../text/range.js';

export const ZERO_RANGE: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

export function pos(line: number, character: number): Position {
  return { line: Math.max(0, line), character: Math.max(0, character) };
}

/** Handlebars' SourceLocation (1-based lines, 0-based columns) as a zero-based Range. */
export function locRange(loc: hbs.AST.SourceLocation | undefined): Range {
  if (!loc || !loc.start || !loc.end) return ZERO_RANGE;
  return { start: pos(loc.start.line - 1, loc.start.column), end: pos(loc.end.line - 1, loc.end.column) };
}

export function comparePos(a: Position, b: Position): number {
  return a.line - b.line || a.character - b.character;
}
