/**
 * The incremental parser must give exactly the tree (and the same verdict on errors) that one
 * parse of the whole text gives, after any sequence of edits, while reusing unchanged pieces.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { cutIntoPieces, IncrementalYamlParser } from '../../../core/yaml/incrementalParse.js';
import { parseWithYamlPackage } from '../../../core/yaml/parse.js';
// @ts-ignore: a plain ES module shared with the benchmarks
import { generateWorkspace } from '../../../bench/generate.mjs';
import { rng } from '../../helpers/rng.js';


const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-inc-'));
(generateWorkspace as (d: string, o: object) => void)(dir, { compositions: 120, stepsPer: 6, services: 10, templates: 20 });
const base = fs.readFileSync(path.join(dir, 'composition_rules.yaml'), 'utf8');

test('a large file is cut into its composition entries', () => {
  assert.ok(base.length > 64 * 1024);
  const layout = cutIntoPieces(base);
  assert.ok(layout);
  const comps = layout!.entries.find((e) => e.children);
  assert.equal(comps?.children?.length, 120);
});

test('random edits: same tree as a whole parse, every time', () => {
  const next = rng(42);
  const parser = new IncrementalYamlParser();
  let text = base;
  const inserts = ['x', ' ', '\n', ':', '- ', '#', '"', '[', '&a ', '*a', '\n  extra: 1', '\t', '---\n', '      - id: z\n        template: t\n'];
  for (let i = 0; i < 150; i++) {
    const lines = text.split('\n');
    const at = Math.floor(next() * lines.length);
    const r = next();
    if (r < 0.4) {
      const line = lines[at]!;
      const col = Math.floor(next() * (line.length + 1));
      lines[at] = line.slice(0, col) + inserts[Math.floor(next() * inserts.length)] + line.slice(col);
    } else if (r < 0.6) lines.splice(at, 1);
    else if (r < 0.8) lines.splice(at, 0, lines[at] ?? '');
    else text = base; // back to a valid file now and then
    if (r < 0.8) text = lines.join('\n');
    const inc = parser.parse(text);
    const whole = parseWithYamlPackage(text);
    assert.equal(inc.errors.length > 0, whole.errors.length > 0, `edit ${i}: same verdict on errors`);
    if (!whole.errors.length) assert.deepEqual(inc.root, whole.root, `edit ${i}: same tree`);
  }
});

test('an unchanged entry keeps its node objects, moved to its new offset', () => {
  const parser = new IncrementalYamlParser();
  const first = parser.parse(base);
  const comps = () => {
    const root = parser.parse(edited).root as { items: { value: { items: { value: unknown }[] } }[] };
    return root;
  };
  const edited = base.replace('comp_3:\n    description: Generated', 'comp_3:\n    description: Edited');
  const before = (first.root as { items: { value: { items: { value: { start: number } }[] } }[] }).items[2]!.value.items[50]!.value;
  const startBefore = before.start;
  const after = (comps().items[2]!.value.items[50]!.value) as { start: number };
  assert.equal(after, before, 'the same node object is reused');
  assert.equal(after.start, startBefore + ('Edited'.length - 'Generated'.length));
});

test('edits do not pin old versions of the file in memory', async () => {
  // V8 keeps the whole string a slice was taken from alive: pieces (and the strings parsed
  // from them) sliced from each edited version would pin a copy of the file per edit.
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-inc-mem-'));
  generateWorkspace(dir);
  let text = fs.readFileSync(path.join(dir, 'composition_rules.yaml'), 'utf8');
  const parser = new IncrementalYamlParser();
  parser.parse(text);
  gc();
  const before = process.memoryUsage().heapUsed;
  const EDITS = 40;
  for (let i = 0; i < EDITS; i++) {
    const needle = `  comp_${100 + i * 40}:\n    description: `;
    const at = text.indexOf(needle) + needle.length;
    assert.ok(at > needle.length);
    text = text.slice(0, at) + 'x' + text.slice(at);
    parser.parse(text);
  }
  // One full parse from scratch too (it reuses the unchanged pieces' trees).
  text = 'version: 1\n' + text.slice('version: 1\n'.length);
  parser.parse(text + '\n# end\n');
  text = ''; // only the parser holds anything now
  gc();
  const grownMb = (process.memoryUsage().heapUsed - before) / 1e6;
  // Pinning would cost about EDITS x 2.3 MB; the pieces themselves change by a few KB.
  assert.ok(grownMb < 15, `the heap grew by ${grownMb.toFixed(1)} MB over ${EDITS} edits`);
});
