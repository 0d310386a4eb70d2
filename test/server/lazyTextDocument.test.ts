/**
 * LazyTextDocument against vscode-languageserver-textdocument's TextDocument: thousands of
 * seeded random changes (insertions, deletions, replacements with LF, CR and CRLF, reversed
 * ranges, characters past a line's end, full replacements), and after each one the same text, positions,
 * offsets, line ranges and EOLs.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextDocument, type TextDocumentContentChangeEvent } from 'vscode-languageserver-textdocument';
import { LazyTextDocument } from '../../server/lazyTextDocument.js';
import { rng } from '../helpers/rng.js';

const PIECES = ['a', 'bc', ' ', '\n', '\r\n', '\r', 'key: value\n', '\n\n', 'é', '😀', '', 'x\r', '\ny'];

function randomText(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += PIECES[Math.floor(r() * PIECES.length)]!;
  return s;
}

function compare(a: TextDocument, b: LazyTextDocument, r: () => number, where: string): void {
  const text = a.getText();
  assert.equal(b.getText(), text, where);
  assert.equal(b.lineCount, a.lineCount, where);
  for (let k = 0; k < 6; k++) {
    const off = Math.floor(r() * (text.length + 4)) - 2;
    assert.deepEqual(b.positionAt(off), a.positionAt(off), `${where}: positionAt(${off})`);
    const pos = { line: Math.floor(r() * (a.lineCount + 2)) - 1, character: Math.floor(r() * 12) - 1 };
    assert.equal(b.offsetAt(pos), a.offsetAt(pos), `${where}: offsetAt(${JSON.stringify(pos)})`);
    const line = Math.floor(r() * (a.lineCount + 2)) - 1;
    assert.deepEqual(b.getLineRange(line), a.getLineRange(line), `${where}: getLineRange(${line})`);
    assert.equal(b.getEOLCharacters(line), a.getEOLCharacters(line), `${where}: getEOLCharacters(${line})`);
    const range = { start: a.positionAt(Math.floor(r() * (text.length + 1))), end: a.positionAt(Math.floor(r() * (text.length + 1))) };
    if (range.start.line < range.end.line || (range.start.line === range.end.line && range.start.character <= range.end.character)) {
      assert.equal(b.getText(range), a.getText(range), `${where}: getText(${JSON.stringify(range)})`);
    }
  }
}

test('LazyTextDocument answers as TextDocument after every change of a seeded random sequence', () => {
  let checks = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const r = rng(seed);
    const initial = randomText(r, 40);
    let a = TextDocument.create('file:///x.yaml', 'yaml', 1, initial);
    const b = LazyTextDocument.create('file:///x.yaml', 'yaml', 1, initial);
    for (let i = 0; i < 120; i++) {
      const changes: TextDocumentContentChangeEvent[] = [];
      const n = 1 + Math.floor(r() * 3);
      // Each change of a batch is positioned in the text the earlier ones left, as in LSP.
      const scratch = TextDocument.create('file:///scratch', 'yaml', 0, a.getText());
      for (let c = 0; c < n; c++) {
        let change: TextDocumentContentChangeEvent;
        if (r() < 0.02) {
          change = { text: randomText(r, 20) };
        } else {
          // Positions as an editor may send them: reversed ranges, characters past a line's
          // end (LSP clamps them). Not lines past the end: the library's line table then goes wrong.
          const len = scratch.getText().length;
          const p = () => ({ line: Math.floor(r() * scratch.lineCount), character: Math.floor(r() * 10) });
          const start = r() < 0.5 ? scratch.positionAt(Math.floor(r() * (len + 1))) : p();
          const end = r() < 0.6 ? start : r() < 0.5 ? scratch.positionAt(Math.floor(r() * (len + 1))) : p();
          change = { range: { start, end }, text: r() < 0.3 ? '' : randomText(r, 1 + Math.floor(r() * 4)) };
        }
        changes.push(change);
        TextDocument.update(scratch, [change], 0);
      }
      a = TextDocument.update(a, changes, i + 2);
      LazyTextDocument.update(b, changes, i + 2);
      assert.equal(b.version, a.version);
      // Read only now and then, as the server does: changes pile up as parts in between.
      if (i % 7 === 0 || i === 119) {
        compare(a, b, r, `seed ${seed}, change ${i}`);
        checks++;
      } else {
        // Positions are used to apply every change: check them between reads too.
        const off = Math.floor(r() * (a.getText().length + 1));
        assert.deepEqual(b.positionAt(off), a.positionAt(off), `seed ${seed}, change ${i}: positionAt(${off})`);
      }
    }
  }
  assert.ok(checks >= 30 * 17);
});

test('LazyTextDocument keeps typing as parts, and builds the text once when read', () => {
  const base = 'line\n'.repeat(10_000);
  const d = LazyTextDocument.create('file:///big.yaml', 'yaml', 1, base);
  d.offsetAt({ line: 0, character: 0 }); // line offsets computed once, as on open
  for (let i = 0; i < 30; i++) LazyTextDocument.update(d, [{ range: { start: { line: 5000, character: 2 }, end: { line: 5000, character: 2 } }, text: 'x' }], i + 2);
  assert.ok(d.partCount > 1, 'the keystrokes are not applied by rebuilding the text');
  assert.ok(d.partCount <= 64);
  const text = d.getText();
  assert.equal(d.partCount, 1);
  assert.equal(text.length, base.length + 30);
  assert.equal(text.split('\n')[5000], 'li' + 'x'.repeat(30) + 'ne');
});
