/**
 * Small, style-preserving YAML edits on the source tree: add a name to a list (creating the
 * key when missing), remove a list item. Flow lists stay flow (`[a, b]`), block lists stay
 * block (`- a`), and new keys follow the mapping's indentation.
 */
import type { TextEdit } from 'vscode-languageserver-types';
import type { LineIndex } from '../../core/text/lineIndex.js';
import { deref, getPair, isMap, isSeq, type SMap, type SNode } from '../../core/yaml/sourceTree.js';

function lineEnd(text: string, offset: number): number {
  const i = text.indexOf('\n', offset);
  return i === -1 ? text.length : i;
}
function lineStart(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

function insert(lines: LineIndex, at: number, newText: string): TextEdit {
  const p = lines.positionAt(at);
  return { range: { start: p, end: p }, newText };
}
function replace(lines: LineIndex, start: number, end: number, newText: string): TextEdit {
  return { range: lines.range(start, end), newText };
}

/** Adds `value` to the list under `key` of `map`; creates `key: [value]` when the key is missing. */
export function addListItem(text: string, lines: LineIndex, map: SMap, key: string, value: string, after?: string): TextEdit {
  const pair = getPair(map, key);
  if (pair) {
    const seq = deref(pair.value);
    if (isSeq(seq)) {
      const items = seq.items.filter((i): i is SNode => !!i);
      if (seq.flow) {
        if (items.length) return insert(lines, items[items.length - 1]!.end, `, ${value}`);
        const close = text.lastIndexOf(']', seq.end);
        return insert(lines, close === -1 ? seq.start + 1 : close, value);
      }
      const lastItem = items[items.length - 1]!;
      const dash = text.lastIndexOf('-', items[0]!.start);
      const col = dash - lineStart(text, dash);
      return insert(lines, lineEnd(text, lastItem.end), `\n${' '.repeat(col)}- ${value}`);
    }
    if (pair.value) return replace(lines, pair.value.start, pair.value.end, `[${text.slice(pair.value.start, pair.value.end)}, ${value}]`);
    return insert(lines, pair.end, ` [${value}]`);
  }
  return addPair(text, lines, map, `${key}: [${value}]`, after);
}

/** Adds a `key: value` line (or `, key: value` in a flow mapping) to a mapping. */
export function addPair(text: string, lines: LineIndex, map: SMap, pairText: string, after?: string): TextEdit {
  if (map.flow) {
    const last = map.items[map.items.length - 1];
    if (last) return insert(lines, last.end, `, ${pairText}`);
    const close = text.lastIndexOf('}', map.end);
    return insert(lines, close === -1 ? map.start + 1 : close, ` ${pairText} `);
  }
  const first = map.items[0];
  if (!first) return insert(lines, map.end, pairText);
  const col = lines.positionAt(first.key.start).character;
  const anchor = (after ? getPair(map, after) : undefined) ?? first;
  return insert(lines, lineEnd(text, Math.max(anchor.key.end, anchor.value?.end ?? anchor.key.end)), `\n${' '.repeat(col)}${pairText}`);
}

/** Adds a name to a composition's `inputs.required` or `inputs.optional`. */
export function addInput(text: string, lines: LineIndex, composition: SMap, list: 'required' | 'optional', name: string): TextEdit {
  const inputs = getPair(composition, 'inputs');
  const m = deref(inputs?.value ?? null);
  if (isMap(m)) return addListItem(text, lines, m, list, name);
  if (inputs?.value === null && inputs) return insert(lines, inputs.end, ` { ${list}: [${name}] }`);
  return addPair(text, lines, composition, `inputs: { ${list}: [${name}] }`, 'description');
}

/**
 * Removes one item of the list under `key` of `map`; the whole key when it was the only one.
 */
export function removeListItem(text: string, lines: LineIndex, map: SMap, key: string, item: SNode): TextEdit | undefined {
  const pair = getPair(map, key);
  const seq = deref(pair?.value ?? null);
  if (!pair || !isSeq(seq)) return undefined;
  const items = seq.items.filter((i): i is SNode => !!i);
  const i = items.indexOf(item);
  if (i === -1) return undefined;
  if (items.length === 1) {
    // The key's lines, unless the key shares its line with a list dash (`- depends_on: [x]`).
    const ls = lineStart(text, pair.key.start);
    if (text.slice(ls, pair.key.start).trim() === '') {
      const le = lineEnd(text, pair.end);
      return replace(lines, ls, Math.min(text.length, le + 1), '');
    }
    return replace(lines, seq.start, seq.end, '[]');
  }
  if (seq.flow) {
    if (i < items.length - 1) return replace(lines, item.start, items[i + 1]!.start, '');
    return replace(lines, items[i - 1]!.end, item.end, '');
  }
  const ls = lineStart(text, item.start);
  const le = lineEnd(text, item.end);
  return replace(lines, ls, Math.min(text.length, le + 1), '');
}
