/**
 * The workflow graph as SVG: a pure layout of the server's CompositionGraph (layers as columns,
 * left to right; the steps of a layer stacked in a box when they may run in parallel; arrows
 * from a dependency to its dependents), coloured by step status. No `vscode` import: the
 * webview panel sends the string this returns, and the unit tests read it.
 */
import type { CompositionGraph, GraphNodeInfo, StepRunStatus } from '../protocol/protocol.js';
import { COMPOSITION_RULES_FILE } from '../protocol/configFiles.js';

/** A step's status as the graph shows it: the run's, or `not_run` for the steps of a run that was refused before any step. */
export type StepStatusName = StepRunStatus['status'] | 'not_run';

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

export type GraphDirection = 'LR' | 'TB';

export interface GraphLayout {
  /** `LR`: layers as columns, left to right (a wide view); `TB`: layers as rows, top to bottom (a narrow column). */
  direction: GraphDirection;
  width: number;
  height: number;
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
  groups: LaidOutGroup[];
  /** A line under each node's id is kept for its status (TB: the status does not fit beside the id). */
  statusLine: boolean;
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

/**
 * The top-to-bottom layout, for a narrow column (VS Code's side column is often 400 px): tighter
 * spacing, nodes only as wide as their text (at most `maxChars`), the status on a line of its own.
 */
export const COMPACT = {
  pad: 8,
  rankGap: 36,
  gap: 10,
  groupPad: 6,
  groupLabel: 16,
  lineH: 15,
  nodePadY: 8,
  nodePadX: 8,
  /** The id line (12 px monospace) and the others (11 px). */
  idCharW: 7.2,
  charW: 6.6,
  minW: 72,
  maxChars: 18,
} as const;

export interface LayoutOptions {
  direction?: GraphDirection;
  /** TB: keep a line for the status under each id (there are statuses to show). */
  statusLine?: boolean;
}

/** The text lines of a node: its id, its template, then what changes how it runs. */
export function nodeLines(n: GraphNodeInfo, maxChars: number = LAYOUT.maxChars): string[] {
  const lines = [n.id];
  if (n.template) lines.push(n.template);
  if (n.model) lines.push(`model ${n.model}`);
  if (n.when) lines.push(`when ${n.when}`);
  const flags: string[] = [];
  if (n.skip) flags.push('skip');
  if (n.continueOnError) flags.push('continue on error');
  if (n.hasFallback) flags.push('fallback');
  if (flags.length) lines.push(flags.join(' · '));
  return lines.map((l) => (l.length > maxChars ? l.slice(0, maxChars - 1) + '…' : l));
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

interface Ranked {
  columns: number[][];
  cycleSet: Set<string>;
}

function rank(graph: CompositionGraph): Ranked {
  const layerOf = new Map<string, number>();
  graph.layers.forEach((ids, l) => ids.forEach((id) => layerOf.has(id) || layerOf.set(id, l)));
  return { columns: orderLayers(graph, layerOf), cycleSet: new Set(graph.cycle ?? []) };
}

function groupOf(graph: CompositionGraph, col: number[], cycleSet: Set<string>, layer: number, box: { x: number; y: number; w: number; h: number }): LaidOutGroup {
  const isCycle = col.every((i) => cycleSet.has(graph.nodes[i]!.id)) && cycleSet.size > 0;
  return { layer, ...box, label: isCycle ? 'dependency cycle' : `parallel · ${col.length} steps`, kind: isCycle ? 'cycle' : 'parallel' };
}

export function layoutGraph(graph: CompositionGraph, options: LayoutOptions = {}): GraphLayout {
  return options.direction === 'TB' ? layoutTopDown(graph, options.statusLine ?? false) : layoutLeftRight(graph);
}

/**
 * The layout that fits `availableWidth` (the view's, in CSS pixels): left to right when it fits
 * there at full size, else top to bottom, whose width is that of the widest layer.
 */
export function chooseLayout(graph: CompositionGraph, availableWidth: number | undefined, statusLine: boolean): GraphLayout {
  const lr = layoutLeftRight(graph);
  if (!availableWidth || lr.width <= availableWidth) return lr;
  return layoutTopDown(graph, statusLine);
}

function layoutLeftRight(graph: CompositionGraph): GraphLayout {
  const L = LAYOUT;
  const { columns, cycleSet } = rank(graph);
  const lines = graph.nodes.map((n) => nodeLines(n));
  const heights = lines.map((ls) => ls.length * L.lineH + 2 * L.nodePadY);

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
    if (grouped[c]) groups.push(groupOf(graph, col, cycleSet, c, { x: gx, y: gy, w: colW[c]! + 2 * L.groupPad, h: colH[c]! }));
    x += colW[c]! + 2 * groupOffset + L.colGap;
  });
  const width = Math.max(L.pad * 2 + 1, x - L.colGap + L.pad);

  const edges = routeEdges(graph, nodes, (a, b) => {
    if (b.layer > a.layer) {
      const x1 = a.x + a.w;
      const y1 = a.y + a.h / 2;
      const x2 = b.x - 2;
      const y2 = b.y + b.h / 2;
      const mid = (x1 + x2) / 2;
      return `M${r(x1)},${r(y1)} C${r(mid)},${r(y1)} ${r(mid)},${r(y2)} ${r(x2)},${r(y2)}`;
    }
    // Same layer or backwards (only in a cycle): loop out on the right and come back.
    const x1 = a.x + a.w;
    const y1 = a.y + a.h / 2;
    const x2 = b.x + b.w + 2;
    const y2 = b.y + b.h / 2;
    // Downward and upward edges loop out at different widths, so that a 2-cycle shows both arrows.
    const out = Math.max(x1, x2) + (L.colGap / 2) * (a.y < b.y ? 0.6 : 1);
    return `M${r(x1)},${r(y1)} C${r(out)},${r(y1)} ${r(out)},${r(y2)} ${r(x2)},${r(y2)}`;
  });
  return { direction: 'LR', width: Math.round(width + (graph.cycle ? L.colGap / 2 : 0)), height: Math.round(height), nodes, edges, groups, statusLine: false };
}

function layoutTopDown(graph: CompositionGraph, statusLine: boolean): GraphLayout {
  const C = COMPACT;
  const { columns: rows, cycleSet } = rank(graph);
  const lines = graph.nodes.map((n) => nodeLines(n, C.maxChars));
  const widths = lines.map((ls) => Math.round(Math.max(C.minW, ls[0]!.length * C.idCharW, ...ls.slice(1).map((s) => s.length * C.charW)) + 2 * C.nodePadX));
  const lineCount = (i: number) => lines[i]!.length + (statusLine ? 1 : 0);
  const grouped = rows.map((row) => row.length > 1);
  // The nodes of a row share its height; a group adds its padding and its label above.
  const nodeH = rows.map((row) => Math.max(0, ...row.map((i) => lineCount(i) * C.lineH + 2 * C.nodePadY)));
  const rowW = rows.map((row, k) => row.reduce((w, i) => w + widths[i]!, 0) + Math.max(0, row.length - 1) * C.gap + (grouped[k] ? 2 * C.groupPad : 0));
  const innerW = Math.max(0, ...rowW);
  const width = innerW + 2 * C.pad;

  const nodes: LaidOutNode[] = [];
  const groups: LaidOutGroup[] = [];
  let y = C.pad;
  rows.forEach((row, k) => {
    const gy = y;
    const top = grouped[k] ? C.groupPad + C.groupLabel : 0;
    let x = C.pad + (innerW - rowW[k]!) / 2;
    const gx = x;
    if (grouped[k]) x += C.groupPad;
    for (const i of row) {
      const n = graph.nodes[i]!;
      nodes.push({ index: i, id: n.id, layer: k, x: r(x), y: y + top, w: widths[i]!, h: nodeH[k]!, lines: lines[i]! });
      x += widths[i]! + C.gap;
    }
    const h = top + nodeH[k]! + (grouped[k] ? C.groupPad : 0);
    if (grouped[k]) groups.push(groupOf(graph, row, cycleSet, k, { x: r(gx), y: gy, w: rowW[k]!, h }));
    y += h + C.rankGap;
  });
  const loops = graph.cycle ? C.rankGap : 0;
  const height = Math.max(C.pad * 2 + 1, y - C.rankGap + C.pad + loops);

  const edges = routeEdges(graph, nodes, (a, b) => {
    if (b.layer > a.layer) {
      const x1 = a.x + a.w / 2;
      const y1 = a.y + a.h;
      const x2 = b.x + b.w / 2;
      const y2 = b.y - 2;
      const mid = (y1 + y2) / 2;
      return `M${r(x1)},${r(y1)} C${r(x1)},${r(mid)} ${r(x2)},${r(mid)} ${r(x2)},${r(y2)}`;
    }
    // Same row or upwards (only in a cycle): loop out below and come back up.
    const x1 = a.x + a.w / 2;
    const y1 = a.y + a.h;
    const x2 = b.x + b.w / 2;
    const y2 = b.y + b.h + 2;
    const out = Math.max(y1, y2) + C.rankGap * (a.x < b.x ? 0.6 : 1);
    return `M${r(x1)},${r(y1)} C${r(x1)},${r(out)} ${r(x2)},${r(out)} ${r(x2)},${r(y2)}`;
  });
  return { direction: 'TB', width: Math.round(width), height: Math.round(height), nodes, edges, groups, statusLine };
}

const r = (v: number) => Math.round(v * 10) / 10;

/** One edge per dependency between drawn steps, with the path `shape` gives; cycle edges marked. */
function routeEdges(graph: CompositionGraph, nodes: LaidOutNode[], shape: (a: LaidOutNode, b: LaidOutNode) => string): LaidOutEdge[] {
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
    edges.push({ from: e.from, to: e.to, d: shape(a, b), cycle: cycleEdges.has(`${e.from}\u0000${e.to}`) });
  }
  return edges;
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
  const tb = layout.direction === 'TB';
  const padX = tb ? COMPACT.nodePadX : 12;
  const padY = tb ? COMPACT.nodePadY : LAYOUT.nodePadY;
  const lineH = tb ? COMPACT.lineH : LAYOUT.lineH;
  const groupPad = tb ? COMPACT.groupPad : LAYOUT.groupPad;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" class="graph ${tb ? 'tb' : 'lr'}" width="${layout.width}" height="${layout.height}" viewBox="0 0 ${layout.width} ${layout.height}" role="img" aria-label="${escapeXml(`Workflow graph of ${graph.composition}`)}">`);
  out.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>');
  out.push('<marker id="arrow-cycle" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrowhead cycle"/></marker></defs>');
  for (const g of layout.groups) {
    out.push(`<g class="group ${g.kind}" data-layer="${g.layer}"><rect x="${g.x}" y="${g.y}" width="${g.w}" height="${g.h}" rx="10"/></g>`);
  }
  for (const e of layout.edges) {
    out.push(`<path class="edge${e.cycle ? ' cycle' : ''}" data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}" d="${e.d}" marker-end="url(#${e.cycle ? 'arrow-cycle' : 'arrow'})"><title>${escapeXml(`${e.to} depends on ${e.from}`)}</title></path>`);
  }
  // Over the edges that cross them (with a halo of the background), so that they stay legible.
  for (const g of layout.groups) {
    out.push(`<text x="${g.x + groupPad}" y="${g.y + groupPad + (tb ? 10 : 4)}" class="group-label${g.kind === 'cycle' ? ' cycle' : ''}">${escapeXml(g.label)}</text>`);
  }
  const nodeInfo = (i: number) => graph.nodes[i]!;
  for (const n of layout.nodes) {
    const info = nodeInfo(n.index);
    const status = (statuses[n.id] as StepStatusName | undefined) ?? 'none';
    const statusText = status === 'not_run' ? 'not run' : status;
    const classes = ['node', `status-${status}`];
    if (info.model) classes.push('has-model');
    if (info.skip) classes.push('skip');
    if ((graph.cycle ?? []).includes(n.id)) classes.push('in-cycle');
    const tip = [
      `${n.id}${status !== 'none' ? ` (last run: ${statusText})` : ''}`,
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
    out.push(`<g class="${classes.join(' ')}" data-step="${escapeXml(n.id)}" data-index="${n.index}" tabindex="0" role="button" aria-label="${escapeXml(`step ${n.id}${status !== 'none' ? `, ${statusText}` : ''}`)}">`);
    out.push(`<title>${escapeXml(tip)}</title>`);
    out.push(`<rect x="${n.x}" y="${n.y}" width="${n.w}" height="${n.h}" rx="6"/>`);
    // TB: the status has a line of its own under the id; LR: it sits at the right of the id's line.
    const skip = tb && layout.statusLine ? 1 : 0;
    const baseline = (k: number) => r(n.y + padY + lineH * (k + 1) - 4);
    n.lines.forEach((line, k) => {
      const row = k === 0 ? 0 : k + skip;
      out.push(`<text x="${r(n.x + padX)}" y="${baseline(row)}" class="${k === 0 ? 'step-id' : k === 1 && info.template ? 'step-template' : 'step-flags'}">${escapeXml(line)}</text>`);
    });
    if (status !== 'none') {
      if (tb) out.push(`<text x="${r(n.x + padX)}" y="${baseline(1)}" class="step-status">${escapeXml(statusText)}</text>`);
      else out.push(`<text x="${n.x + n.w - 8}" y="${baseline(0)}" class="step-status" text-anchor="end">${escapeXml(statusText)}</text>`);
    }
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('');
}
