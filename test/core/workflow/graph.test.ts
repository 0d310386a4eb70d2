import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildGraph, toDot, toMermaid } from '../../../core/workflow/graph.js';
import { resolveComposition } from '../../../core/workflow/resolve.js';
import { composition, loadRules } from './helpers.js';

const rules = loadRules(`version: 1
compositions:
  complete_analysis:
    steps:
      - { id: extract, template: analysis/extract, model: local }
      - { id: summary, template: analysis/summary, depends_on: [extract] }
      - id: critique
        template: analysis/critique
        depends_on: [extract]
        when: { path: user_experience_level, not_equals: beginner }
        continue_on_error: true
      - { id: end, template: "say \\"bye\\"", depends_on: [summary, critique, extract] }
    overrides:
      states:
        draft: { steps: { critique: { skip: true } } }
  cyclic:
    steps:
      - { id: a, template: t, depends_on: [c] }
      - { id: b, template: t, depends_on: [a] }
      - { id: c, template: t, depends_on: [b] }
      - { id: root, template: t, depends_on: [ghost] }
`);

test('nodes, edges and layers', () => {
  const g = buildGraph(composition(rules, 'complete_analysis'));
  assert.deepEqual(g.layers, [['extract'], ['summary', 'critique'], ['end']]);
  assert.deepEqual(g.edges, [
    { from: 'extract', to: 'summary' },
    { from: 'extract', to: 'critique' },
    { from: 'summary', to: 'end' },
    { from: 'critique', to: 'end' },
    { from: 'extract', to: 'end' },
  ]);
  assert.deepEqual(g.nodes[2], { id: 'critique', template: 'analysis/critique', layer: 1, when: 'user_experience_level != "beginner"', continueOnError: true });
  assert.equal(g.nodes[0]!.model, 'local');
  assert.equal(g.cycle, undefined);
});

test('a resolved composition shows its overrides', () => {
  const def = composition(rules, 'complete_analysis');
  const g = buildGraph(resolveComposition(def, {}, { state: 'draft' }));
  assert.equal(g.nodes.find((n) => n.id === 'critique')!.skip, true);
});

test('Mermaid output', () => {
  const m = toMermaid(buildGraph(composition(rules, 'complete_analysis')));
  assert.equal(
    m,
    [
      'flowchart TD',
      '  s0[["extract<br/>analysis/extract<br/>model: local"]]',
      '  s1["summary<br/>analysis/summary"]',
      '  s2["critique<br/>analysis/critique<br/>when user_experience_level != #quot;beginner#quot;"]',
      '  s3["end<br/>say #quot;bye#quot;"]',
      '  s0 --> s1',
      '  s0 --> s2',
      '  s1 --> s3',
      '  s2 --> s3',
      '  s0 --> s3',
      '  classDef conditional stroke-dasharray: 5 5',
      '  classDef skipped opacity:0.5',
      '  classDef tolerant stroke:#d97706',
      '  class s2 conditional',
      '  class s2 tolerant',
      '',
    ].join('\n'),
  );
});

test('DOT output', () => {
  const d = toDot(buildGraph(composition(rules, 'complete_analysis')));
  assert.match(d, /^digraph "complete_analysis" \{/);
  assert.match(d, /"extract" \[label="extract\\nanalysis\/extract\\nmodel: local", shape=box3d\];/);
  assert.match(d, /"end" \[label="end\\nsay \\"bye\\""\];/);
  assert.match(d, /"critique" \[label="[^"]*\\"beginner\\"", style="dashed", color="#d97706"\];/);
  assert.match(d, /"extract" -> "summary";/);
  assert.match(d, /\{ rank=same; "summary"; "critique"; \}/);
  assert.ok(d.endsWith('}\n'));
});

test('a cycle and an unknown dependency still give a drawable graph', () => {
  const g = buildGraph(composition(rules, 'cyclic'));
  assert.deepEqual(g.layers, [['root'], ['a', 'b', 'c']]);
  assert.equal(g.edges.length, 3);
  assert.equal(g.cycle!.length, 4);
  assert.equal(g.cycle![0], g.cycle![3]);
});
