/**
 * The workflow graph's SVG layout (client/graphLayout.ts): layers as columns, parallel groups,
 * arrows from dependency to dependent, status colours as classes, escaping, cycles.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseLayout, layoutGraph, nodeLines, renderSvg, LAYOUT } from '../../client/graphLayout.js';
import type { CompositionGraph } from '../../protocol/protocol.js';

const loc = { uri: 'file:///w/composition_rules.yaml', range: { start: { line: 0, character: 0 }, end: { line: 0, character: 5 } } };

/** complete_analysis of examples/: extract -> (summary, critique, risks) -> report. */
const fanOut: CompositionGraph = {
  composition: 'complete_analysis',
  nodes: [
    { id: 'extract', template: 'analysis/extract', layer: 0 },
    { id: 'summary', template: 'analysis/summary', layer: 1 },
    { id: 'critique', template: 'analysis/critique', layer: 1, when: 'user_experience_level != beginner', continueOnError: true, hasFallback: true },
    { id: 'risks', template: 'analysis/risks', layer: 1 },
    { id: 'report', template: 'analysis/report', layer: 2 },
  ],
  edges: [
    { from: 'extract', to: 'summary' },
    { from: 'extract', to: 'critique' },
    { from: 'extract', to: 'risks' },
    { from: 'summary', to: 'report' },
    { from: 'critique', to: 'report' },
    { from: 'risks', to: 'report' },
  ],
  layers: [['extract'], ['summary', 'critique', 'risks'], ['report']],
  location: loc,
};

const overlaps = (a: { x: number; y: number; w: number; h: number }, b: { x: number; y: number; w: number; h: number }) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

test('layers become columns left to right, and no two nodes overlap', () => {
  const l = layoutGraph(fanOut);
  const at = (id: string) => l.nodes.find((n) => n.id === id)!;
  assert.equal(l.nodes.length, 5);
  assert.ok(at('extract').x + at('extract').w <= at('summary').x, 'extract left of summary');
  assert.equal(at('summary').x, at('critique').x);
  assert.equal(at('summary').x, at('risks').x);
  assert.ok(at('risks').x + at('risks').w <= at('report').x, 'risks left of report');
  for (const a of l.nodes) for (const b of l.nodes) if (a !== b) assert.ok(!overlaps(a, b), `${a.id} overlaps ${b.id}`);
  for (const n of l.nodes) {
    assert.ok(n.x >= 0 && n.y >= 0 && n.x + n.w <= l.width && n.y + n.h <= l.height, `${n.id} inside the drawing`);
  }
});

test('a layer of several steps is drawn as one parallel group around them', () => {
  const l = layoutGraph(fanOut);
  assert.equal(l.groups.length, 1);
  const g = l.groups[0]!;
  assert.equal(g.kind, 'parallel');
  assert.match(g.label, /parallel · 3 steps/);
  for (const id of ['summary', 'critique', 'risks']) {
    const n = l.nodes.find((x) => x.id === id)!;
    assert.ok(n.x >= g.x && n.y >= g.y && n.x + n.w <= g.x + g.w && n.y + n.h <= g.y + g.h, `${id} inside the group`);
  }
});

test('every edge goes from the right side of the dependency to the left side of the dependent', () => {
  const l = layoutGraph(fanOut);
  assert.equal(l.edges.length, 6);
  for (const e of l.edges) {
    const a = l.nodes.find((n) => n.id === e.from)!;
    const b = l.nodes.find((n) => n.id === e.to)!;
    const m = /^M([\d.]+),([\d.]+) C.* ([\d.]+),([\d.]+)$/.exec(e.d);
    assert.ok(m, e.d);
    assert.equal(Number(m[1]), a.x + a.w);
    assert.equal(Number(m[2]), a.y + a.h / 2);
    assert.ok(Math.abs(Number(m[3]) - b.x) <= 2);
    assert.equal(Number(m[4]), b.y + b.h / 2);
  }
});

test('a layer is ordered by its dependencies to avoid crossings', () => {
  const g: CompositionGraph = {
    composition: 'x',
    nodes: [
      { id: 'a', layer: 0 },
      { id: 'b', layer: 0 },
      { id: 'fromB', layer: 1 },
      { id: 'fromA', layer: 1 },
    ],
    edges: [
      { from: 'b', to: 'fromB' },
      { from: 'a', to: 'fromA' },
    ],
    layers: [['a', 'b'], ['fromB', 'fromA']],
    location: loc,
  };
  const l = layoutGraph(g);
  const y = (id: string) => l.nodes.find((n) => n.id === id)!.y;
  assert.ok(y('a') < y('b'));
  assert.ok(y('fromA') < y('fromB'), 'fromA is placed beside a');
});

test('the SVG has a node per step, status classes, arrows and escaped text', () => {
  const g: CompositionGraph = { ...fanOut, nodes: fanOut.nodes.map((n) => (n.id === 'risks' ? { ...n, template: 'a<b>&"c"' } : n)) };
  const svg = renderSvg(g, layoutGraph(g), { extract: 'succeeded', summary: 'running', critique: 'failed' });
  assert.equal((svg.match(/<g class="node /g) ?? []).length, 5);
  assert.match(svg, /class="node status-succeeded" data-step="extract"/);
  assert.match(svg, /class="node status-running" data-step="summary"/);
  assert.match(svg, /class="node status-failed" data-step="critique"/);
  assert.match(svg, /class="node status-none" data-step="report"/);
  assert.equal((svg.match(/<path class="edge"/g) ?? []).length, 6);
  assert.match(svg, /marker-end="url\(#arrow\)"/);
  assert.ok(svg.includes('a&lt;b&gt;&amp;&quot;c&quot;'));
  assert.ok(!svg.includes('a<b>'));
  assert.ok(!/style=/.test(svg), 'no inline style (the CSP forbids it)');
  for (const id of ['extract', 'summary', 'critique', 'risks', 'report']) assert.ok(svg.includes(`>${id}</text>`), id);
});

test('nodes show what changes how a step runs', () => {
  assert.deepEqual(nodeLines({ id: 'critique', template: 'analysis/critique', layer: 1, when: 'x', continueOnError: true, hasFallback: true }), ['critique', 'analysis/critique', 'when x', 'continue on error · fallback']);
  assert.deepEqual(nodeLines({ id: 'draft', layer: 0, model: 'local' }), ['draft', 'model local']);
  const long = nodeLines({ id: 'x'.repeat(60), layer: 0 })[0]!;
  assert.equal(long.length, LAYOUT.maxChars);
  assert.ok(long.endsWith('…'));
});

test('a dependency cycle is drawn in red as its own group, with looping edges', () => {
  const g: CompositionGraph = {
    composition: 'loop',
    nodes: [
      { id: 'start', layer: 0 },
      { id: 'a', layer: 1 },
      { id: 'b', layer: 1 },
    ],
    edges: [
      { from: 'b', to: 'a' },
      { from: 'a', to: 'b' },
    ],
    layers: [['start'], ['a', 'b']],
    cycle: ['a', 'b', 'a'],
    location: loc,
  };
  const l = layoutGraph(g);
  assert.equal(l.groups[0]!.kind, 'cycle');
  assert.ok(l.edges.every((e) => e.cycle));
  const svg = renderSvg(g, l);
  assert.match(svg, /class="edge cycle"/);
  assert.match(svg, /in-cycle/);
  for (const e of l.edges) {
    const xs = [...e.d.matchAll(/([\d.]+),/g)].map((m) => Number(m[1]));
    assert.ok(Math.max(...xs) <= l.width, 'loops stay inside the drawing');
  }
});

test('an empty composition still gives a valid, small SVG', () => {
  const g: CompositionGraph = { composition: 'empty', nodes: [], edges: [], layers: [], location: loc };
  const l = layoutGraph(g);
  assert.equal(l.nodes.length, 0);
  const svg = renderSvg(g, l);
  assert.match(svg, /^<svg [^>]*width="\d+" height="\d+"/);
  assert.ok(svg.endsWith('</svg>'));
});

// ------------------------------------------------------------------ a narrow column: top to bottom

test('a view too narrow for the left-to-right drawing gets the top-to-bottom one; a wide view keeps left to right', () => {
  const lr = layoutGraph(fanOut);
  assert.equal(chooseLayout(fanOut, lr.width + 10, false).direction, 'LR');
  assert.equal(chooseLayout(fanOut, undefined, false).direction, 'LR', 'before the view says its width');
  const tb = chooseLayout(fanOut, 404, true);
  assert.equal(tb.direction, 'TB');
  // VS Code's side column of 420 px leaves ~404 px to the drawing: it fits at 90% or more, so 12 px text stays >= 10.8 px.
  assert.ok(tb.width * 0.9 <= 404, `the TB drawing is ${tb.width} px wide`);
  assert.ok(tb.width < lr.width / 1.5, `TB ${tb.width} px against LR ${lr.width} px`);
});

test('top to bottom: layers become rows, the steps of a layer side by side in their group, nothing overlaps', () => {
  const l = layoutGraph(fanOut, { direction: 'TB', statusLine: true });
  const at = (id: string) => l.nodes.find((n) => n.id === id)!;
  assert.ok(at('extract').y + at('extract').h <= at('summary').y, 'extract above summary');
  assert.equal(at('summary').y, at('critique').y);
  assert.equal(at('summary').y, at('risks').y);
  assert.ok(at('risks').y + at('risks').h <= at('report').y, 'the row above report');
  for (const a of l.nodes) for (const b of l.nodes) if (a !== b) assert.ok(!overlaps(a, b), `${a.id} overlaps ${b.id}`);
  for (const n of l.nodes) assert.ok(n.x >= 0 && n.y >= 0 && n.x + n.w <= l.width && n.y + n.h <= l.height, `${n.id} inside the drawing`);
  const g = l.groups[0]!;
  assert.match(g.label, /parallel · 3 steps/);
  for (const id of ['summary', 'critique', 'risks']) {
    const n = at(id);
    assert.ok(n.x >= g.x && n.y >= g.y && n.x + n.w <= g.x + g.w && n.y + n.h <= g.y + g.h, `${id} inside the group`);
  }
  // Edges leave the bottom of the dependency and enter the top of the dependent.
  for (const e of l.edges) {
    const a = at(e.from);
    const b = at(e.to);
    const m = /^M([\d.]+),([\d.]+) C.* ([\d.]+),([\d.]+)$/.exec(e.d);
    assert.ok(m, e.d);
    assert.equal(Number(m[1]), a.x + a.w / 2);
    assert.equal(Number(m[2]), a.y + a.h);
    assert.ok(Math.abs(Number(m[3]) - (b.x + b.w / 2)) < 0.1);
    assert.ok(Math.abs(Number(m[4]) - b.y) <= 2);
  }
});

test('top to bottom: the status on a line of its own; a refused run shows its steps as "not run"', () => {
  const l = layoutGraph(fanOut, { direction: 'TB', statusLine: true });
  const svg = renderSvg(fanOut, l, { extract: 'not_run', summary: 'fallback' });
  assert.match(svg, /class="graph tb"/);
  assert.match(svg, /class="node status-not_run" data-step="extract"[^>]*aria-label="step extract, not run"/);
  assert.match(svg, />not run<\/text>/);
  assert.match(svg, /class="step-status">fallback</);
  // The id's line, then the status's, then the template's.
  const extract = l.nodes.find((n) => n.id === 'extract')!;
  const ys = [...svg.slice(svg.indexOf('data-step="extract"')).split('</g>')[0]!.matchAll(/<text x="[\d.]+" y="([\d.]+)" class="([\w-]+)"/g)].map((m) => [m[2], Number(m[1])] as const);
  assert.deepEqual(ys.map(([c]) => c), ['step-id', 'step-template', 'step-status']);
  const y = Object.fromEntries(ys);
  assert.ok(y['step-id']! < y['step-status']! && y['step-status']! < y['step-template']!, JSON.stringify(y));
  assert.ok(y['step-template']! < extract.y + extract.h, 'inside the node');
});

test('top to bottom: a cycle loops below its row and stays inside the drawing', () => {
  const g: CompositionGraph = {
    composition: 'loop',
    nodes: [
      { id: 'start', layer: 0 },
      { id: 'a', layer: 1 },
      { id: 'b', layer: 1 },
    ],
    edges: [
      { from: 'b', to: 'a' },
      { from: 'a', to: 'b' },
    ],
    layers: [['start'], ['a', 'b']],
    cycle: ['a', 'b', 'a'],
    location: loc,
  };
  const l = layoutGraph(g, { direction: 'TB' });
  for (const e of l.edges) {
    const ys = [...e.d.matchAll(/,([\d.]+)/g)].map((m) => Number(m[1]));
    assert.ok(Math.max(...ys) <= l.height, `${e.d} inside the drawing of height ${l.height}`);
  }
});
