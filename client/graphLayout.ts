/**
 * The workflow graph as SVG: a pure layout of the server's CompositionGraph (layers as columns,
 * left to right; the steps of a layer stacked in a box when they may run in parallel; arrows
 * from a dependency to its dependents), coloured by step status. No `vscode` import: the
 * webview panel sends the string this returns, and the unit tests read it.
 */
import type { CompositionGraph, GraphNodeInfo, StepRunStatus } from '../protocol/protocol.js';
import { COMPOSITION_RULES_FILE } from '../protocol/configFiles.js';

export type StepStatusName = StepRunStatus['status'];

export interface LaidOutNode {
  /** Index in graph.nodes (ids may repeat in a broken composition). */
  index: number;
  id: string;
  layer: number;
  x: number;
  y: number;
  w: number;
  h: number;
  lines: string[];
}

export interface LaidOutEdge {
  from: string;
  to: string;
  d: string;
  /** The edge is part of the composition's dependency cycle. */
  cycle: boolean;
}

export interface LaidOutGroup {
  layer: number;
  x: number;
  y: number;
  w: number;
  h: number;
  label: string;
  kind: 'parallel' | 'cycle';
}

export interface GraphLayout {
  width: number;
  height: number;
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
  groups: LaidOutGroup[];
}

export const LAYOUT = {
  pad: 24,
  colGap: 84,
  rowGap: 22,
  groupPad: 12,
  groupLabel: 16,
  lineH: 15,
  nodePadY: 10,
  charW: 7.2,
  minW: 130,
  maxChars: 34,
} as const;

/** The text lines of a node: its id, its template, then what changes how it runs. */
export function nodeLines(n: GraphNodeInfo): string[] {
  const lines = [n.id];
  if (n.template) lines.push(n.template);
  if (n.model) lines.push(`model ${n.model}`);
  if (n.when) lines.push(`when ${n.when}`);
  const flags: string[] = [];
  if (n.skip) flags.push('skip');
  if (n.continueOnError) flags.push('continue on error');
  if (n.hasFallback) flags.push('fallback');
  if (flags.length) lines.push(flags.join(' · '));
  return lines.map((l) => (l.length > LAYOUT.maxChars ? l.slice(0, LAYOUT.maxChars - 1) + '…' : l));
}

/** Orders each layer by the mean position of its dependencies (fewer crossings), stable otherwise. */
function orderLayers(graph: CompositionGraph, layerOf: Map<string, number>): number[][] {
  const byLayer: number[][] = [];
  graph.nodes.forEach((n, i) => {
    const l = layerOf.get(n.id) ?? n.layer;
    (byLayer[l] ??= []).push(i);
  });
  for (let l = 0; l < byLayer.length; l++) byLayer[l] ??= [];
  const pos = new Map<string, number>();
  (byLayer[0] ?? []).forEach((i, k) => pos.set(graph.nodes[i]!.id, k));
  for (let l = 1; l < byLayer.length; l++) {
    const key = (i: number) => {
      const deps = graph.edges.filter((e) => e.to === graph.nodes[i]!.id && pos.has(e.from) && (layerOf.get(e.from) ?? 0) < l).map((e) => pos.get(e.from)!);
      return deps.length ? deps.reduce((a, b) => a + b, 0) / deps.length : Number.POSITIVE_INFINITY;
    };
    const keyed = byLayer[l]!.map((i, k) => ({ i, k, v: key(i) }));
    keyed.sort((a, b) => (a.v === b.v ? a.k - b.k : a.v < b.v ? -1 : 1));
    byLayer[l] = keyed.map((x) => x.i);
    byLayer[l]!.forEach((i, k) => pos.set(graph.nodes[i]!.id, k));
  }
  return byLayer;
}

export function layoutGraph(graph: CompositionGraph): GraphLayout {
  const L = LAYOUT;
  const layerOf = new Map<string, number>();
  graph.layers.forEach((ids, l) => ids.forEach((id) => layerOf.has(id) || layerOf.set(id, l)));
  const columns = orderLayers(graph, layerOf);
  const lines = graph.nodes.map(nodeLines);
  const heights = lines.map((ls) => ls.length * L.lineH + 2 * L.nodePadY);
  const cycleSet = new Set(graph.cycle ?? []);

  // Column widths and heights.
  // Room for the id plus the status shown beside it (`succeeded`), and for every other line.
  const colW = columns.map((col) => Math.round(Math.max(L.minW, ...col.map((i) => Math.max(lines[i]![0]!.length + 11, ...lines[i]!.map((s) => s.length)) * L.charW + 24))));
  const grouped = columns.map((col) => col.length > 1);
  const colH = columns.map((col, c) => col.reduce((h, i) => h + heights[i]!, 0) + Math.max(0, col.length - 1) * L.rowGap + (grouped[c] ? 2 * L.groupPad + L.groupLabel : 0));
  const innerH = Math.max(0, ...colH);
  const height = innerH + 2 * L.pad;

  const nodes: LaidOutNode[] = [];
  const groups: LaidOutGroup[] = [];
  let x = L.pad;
  columns.forEach((col, c) => {
    const gx = x;
    const groupOffset = grouped[c] ? L.groupPad : 0;
    const nx = x + groupOffset;
    let y = L.pad + (innerH - colH[c]!) / 2;
    const gy = y;
    if (grouped[c]) y += L.groupPad + L.groupLabel;
    for (const i of col) {
      const n = graph.nodes[i]!;
      nodes.push({ index: i, id: n.id, layer: c, x: nx, y, w: colW[c]!, h: heights[i]!, lines: lines[i]! });
      y += heights[i]! + L.rowGap;
    }
    if (grouped[c]) {
      const isCycle = col.every((i) => cycleSet.has(graph.nodes[i]!.id)) && cycleSet.size > 0;
      groups.push({ layer: c, x: gx, y: gy, w: colW[c]! + 2 * L.groupPad, h: colH[c]!, label: isCycle ? 'dependency cycle' : `parallel · ${col.length} steps`, kind: isCycle ? 'cycle' : 'parallel' });
    }
    x += colW[c]! + 2 * groupOffset + L.colGap;
  });
  const width = Math.max(L.pad * 2 + 1, x - L.colGap + L.pad);

  const first = new Map<string, LaidOutNode>();
  for (const n of nodes) if (!first.has(n.id)) first.set(n.id, n);
  const cycleEdges = new Set<string>();
  const cyc = graph.cycle ?? [];
  for (let k = 0; k + 1 < cyc.length; k++) {
    // The cycle lists a -> b where a depends on b, or the other way round: mark both directions.
    cycleEdges.add(`${cyc[k]}\u0000${cyc[k + 1]}`);
    cycleEdges.add(`${cyc[k + 1]}\u0000${cyc[k]}`);
  }
  const edges: LaidOutEdge[] = [];
  for (const e of graph.edges) {
    const a = first.get(e.from);
    const b = first.get(e.to);
    if (!a || !b) continue;
    const r = (v: number) => Math.round(v * 10) / 10;
    let d: string;
    if (b.layer > a.layer) {
      const x1 = a.x + a.w;
      const y1 = a.y + a.h / 2;
      const x2 = b.x - 2;
      const y2 = b.y + b.h / 2;
      const mid = (x1 + x2) / 2;
      d = `M${r(x1)},${r(y1)} C${r(mid)},${r(y1)} ${r(mid)},${r(y2)} ${r(x2)},${r(y2)}`;
    } else {
      // Same layer or backwards (only in a cycle): loop out on the right and come back.
      const x1 = a.x + a.w;
      const y1 = a.y + a.h / 2;
      const x2 = b.x + b.w + 2;
      const y2 = b.y + b.h / 2;
      // Downward and upward edges loop out at different widths, so that a 2-cycle shows both arrows.
      const out = Math.max(x1, x2) + (L.colGap / 2) * (a.y < b.y ? 0.6 : 1);
      d = `M${r(x1)},${r(y1)} C${r(out)},${r(y1)} ${r(out)},${r(y2)} ${r(x2)},${r(y2)}`;
    }
    edges.push({ from: e.from, to: e.to, d, cycle: cycleEdges.has(`${e.from}\u0000${e.to}`) });
  }
  return { width: Math.round(width + (graph.cycle ? L.colGap / 2 : 0)), height: Math.round(height), nodes, edges, groups };
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * The SVG of a laid-out graph. Colours come from CSS classes (`status-succeeded`...), styled
 * by the webview with the theme's colours: the SVG itself has no inline style, so that a
 * strict CSP (no 'unsafe-inline') holds.
 */
export function renderSvg(graph: CompositionGraph, layout: GraphLayout, statuses: Record<string, StepStatusName> = {}): string {
  const L = LAYOUT;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="graph" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-label="${escapeXml(`Workflow graph of ${graph.composition}`)}">`);
  out.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>');
  out.push('<marker id="arrow-cycle" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead cycle"/></marker></defs>');
  for (const g of layout.groups) {
    out.push(`<g class="group ${g.kind}" data-layer="${g.layer}"><rect x="${g.x}" y="${g.y}" width="${g.w}" height="${g.h}" rx="10"/><text x="${g.x + L.groupPad}" y="${g.y + L.groupPad + 4}" class="group-label">${escapeXml(g.label)}</text></g>`);
  }
  for (const e of layout.edges) {
    out.push(`<path class="edge${e.cycle ? ' cycle' : ''}" data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}" d="${e.d}" marker-end="url(#${e.cycle ? 'arrow-cycle' : 'arrow'})"><title>${escapeXml(`${e.to} depends on ${e.from}`)}</title></path>`);
  }
  const nodeInfo = (i: number) => graph.nodes[i]!;
  for (const n of layout.nodes) {
    const info = nodeInfo(n.index);
    const status = (statuses[n.id] as StepStatusName | undefined) ?? 'none';
    const classes = ['node', `status-${status}`];
    if (info.model) classes.push('has-model');
    if (info.skip) classes.push('skip');
    if ((graph.cycle ?? []).includes(n.id)) classes.push('in-cycle');
    const tip = [
      `${n.id}${status !== 'none' ? ` (last run: ${status})` : ''}`,
      info.template && `template: ${info.template}`,
      info.model && `model: ${info.model}`,
      info.when && `when: ${info.when}`,
      info.skip && 'skipped by an override',
      info.continueOnError && 'continue_on_error: true',
      info.hasFallback && 'has a fallback',
      `Click to open the step in ${COMPOSITION_RULES_FILE}`,
    ]
      .filter(Boolean)
      .join('\n');
    out.push(`<g class="${classes.join(' ')}" data-step="${escapeXml(n.id)}" data-index="${n.index}" tabindex="0" role="button" aria-label="${escapeXml(`step ${n.id}`)}">`);
    out.push(`<title>${escapeXml(tip)}</title>`);
    out.push(`<rect x="${n.x}" y="${n.y}" width="${n.w}" height="${n.h}" rx="6"/>`);
    n.lines.forEach((line, k) => {
      out.push(`<text x="${n.x + 12}" y="${n.y + L.nodePadY + L.lineH * (k + 1) - 4}" class="${k === 0 ? 'step-id' : k === 1 && info.template ? 'step-template' : 'step-flags'}">${escapeXml(line)}</text>`);
    });
    if (status !== 'none') out.push(`<text x="${n.x + n.w - 8}" y="${n.y + L.nodePadY + L.lineH - 4}" class="step-status" text-anchor="end">${escapeXml(status)}</text>`);
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('');
}
