/**
 * A composition as a graph for people: nodes, edges and layers (a step's layer is one more
 * than its deepest dependency), printed as Mermaid or Graphviz DOT for the CLI's `graph`
 * command and the editor's graph view. Works on half-written compositions too: unknown
 * dependencies are left out and steps caught in a cycle go to a last layer of their own.
 */
import type { CompositionDef } from '../model/types.js';
import { buildStepGraph, findCycle, topologicalLayers } from './dag.js';
import type { ResolvedComposition } from './types.js';
import { describeWhen } from './when.js';

export interface GraphNode {
  id: string;
  template?: string;
  model?: string;
  layer: number;
  /** `when` as text, when the step has one. */
  when?: string;
  skip?: boolean;
  continueOnError?: boolean;
  hasFallback?: boolean;
}

export interface GraphEdge {
  /** The dependency. */
  from: string;
  /** The step that depends on it. */
  to: string;
}

export interface WorkflowGraph {
  composition: string;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Step ids by layer; layer 0 has the steps without dependencies. */
  layers: string[][];
  /** A dependency cycle, closed (`['a', 'b', 'a']`), when there is one. */
  cycle?: string[];
}

function isDef(c: CompositionDef | ResolvedComposition): c is CompositionDef {
  return 'nameNode' in c;
}

export function buildGraph(c: CompositionDef | ResolvedComposition): WorkflowGraph {
  const nodes: GraphNode[] = [];
  const flat = isDef(c)
    ? c.steps.map((s) => {
        const n: GraphNode = { id: s.id, layer: 0 };
        if (s.template) n.template = s.template.name;
        if (s.model) n.model = s.model.name;
        if (s.when) n.when = describeWhen(s.when);
        if (s.continueOnError) n.continueOnError = true;
        if (s.fallback) n.hasFallback = true;
        nodes.push(n);
        return { id: s.id, dependsOn: s.dependsOn.map((d) => d.name) };
      })
    : c.steps.map((s) => {
        const n: GraphNode = { id: s.id, layer: 0 };
        if (s.template !== undefined) n.template = s.template;
        if (s.model !== undefined) n.model = s.model;
        if (s.when) n.when = describeWhen(s.when);
        if (s.skip) n.skip = true;
        if (s.continueOnError) n.continueOnError = true;
        if (s.fallback) n.hasFallback = true;
        nodes.push(n);
        return { id: s.id, dependsOn: s.dependsOn };
      });
  const { graph } = buildStepGraph(flat);
  // Duplicate ids: buildStepGraph indexes the first; later repeats are drawn but get no edges.
  const edges: GraphEdge[] = [];
  graph.deps.forEach((ds, i) => {
    if (graph.index.get(graph.ids[i]!) !== i) return;
    for (const d of ds) edges.push({ from: graph.ids[d]!, to: graph.ids[i]! });
  });

  // Longest-path layers from Kahn's order; what it cannot place is in (or after) a cycle.
  const { order, layer } = topologicalLayers(graph);
  const placed = new Set(order);
  let maxLayer = order.reduce((m, v) => Math.max(m, layer[v]!), -1);
  const cyclic = nodes.map((_, i) => i).filter((i) => !placed.has(i));
  if (cyclic.length) {
    maxLayer++;
    for (const i of cyclic) layer[i] = maxLayer;
  }
  const layers: string[][] = Array.from({ length: maxLayer + 1 }, () => []);
  nodes.forEach((node, i) => {
    node.layer = layer[i]!;
    layers[node.layer]!.push(node.id);
  });
  const out: WorkflowGraph = { composition: c.name, nodes, edges, layers };
  const cycle = findCycle(graph);
  if (cycle) out.cycle = cycle;
  return out;
}

function nodeLabelLines(n: GraphNode): string[] {
  const lines = [n.id];
  if (n.template) lines.push(n.template);
  if (n.model) lines.push(`model: ${n.model}`);
  if (n.when) lines.push(`when ${n.when}`);
  if (n.skip) lines.push('skipped');
  return lines;
}

export interface MermaidOptions {
  direction?: 'TD' | 'LR';
}

/** Mermaid flowchart. Nodes get generated ids (`s0`, `s1`…) because step ids such as `end` are Mermaid keywords. */
export function toMermaid(g: WorkflowGraph, options: MermaidOptions = {}): string {
  const esc = (s: string) => s.replace(/"/g, '#quot;').replace(/</g, '#lt;').replace(/>/g, '#gt;');
  const ids = new Map<string, string>();
  const lines = [`flowchart ${options.direction ?? 'TD'}`];
  g.nodes.forEach((n, i) => {
    if (!ids.has(n.id)) ids.set(n.id, `s${i}`);
    const label = nodeLabelLines(n).map(esc).join('<br/>');
    // A model step is drawn as a subroutine box so calls that leave the machine stand out.
    lines.push(n.model ? `  s${i}[["${label}"]]` : `  s${i}["${label}"]`);
  });
  for (const e of g.edges) lines.push(`  ${ids.get(e.from)} --> ${ids.get(e.to)}`);
  const cls = (name: string, pred: (n: GraphNode) => boolean) => {
    const members = g.nodes.map((n, i) => (pred(n) ? `s${i}` : '')).filter(Boolean);
    return members.length ? [`  class ${members.join(',')} ${name}`] : [];
  };
  const classLines = [
    ...cls('conditional', (n) => !!n.when),
    ...cls('skipped', (n) => !!n.skip),
    ...cls('tolerant', (n) => !!n.continueOnError),
  ];
  if (classLines.length) {
    lines.push('  classDef conditional stroke-dasharray: 5 5', '  classDef skipped opacity:0.5', '  classDef tolerant stroke:#d97706');
    lines.push(...classLines);
  }
  return lines.join('\n') + '\n';
}

/** Graphviz DOT, one `rank=same` group per layer. */
export function toDot(g: WorkflowGraph): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  const lines = [`digraph ${q(g.composition)} {`, '  rankdir=TB;', '  node [shape=box, fontname="Helvetica"];'];
  const seen = new Set<string>();
  for (const n of g.nodes) {
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    const attrs = [`label=${q(nodeLabelLines(n).join('\n'))}`];
    if (n.model) attrs.push('shape=box3d');
    const styles: string[] = [];
    if (n.when) styles.push('dashed');
    if (n.skip) styles.push('dotted');
    if (styles.length) attrs.push(`style=${q(styles.join(','))}`);
    if (n.continueOnError) attrs.push('color="#d97706"');
    lines.push(`  ${q(n.id)} [${attrs.join(', ')}];`);
  }
  for (const e of g.edges) lines.push(`  ${q(e.from)} -> ${q(e.to)};`);
  for (const layer of g.layers) if (layer.length > 1) lines.push(`  { rank=same; ${[...new Set(layer)].map(q).join('; ')}; }`);
  lines.push('}');
  return lines.join('\n') + '\n';
}
