/**
 * Positions in a text as LSP counts them, below every module that reports one: the line
 * index, the template analysis and the diagnostics (core/model/diagnostics.ts re-exports them).
 */

/** Zero-based line and UTF-16 column, as in LSP. */
export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}
