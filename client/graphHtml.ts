/**
 * The workflow graph webview's page: a strict Content-Security-Policy (nothing from the network,
 * no inline code but the one nonce'd script and style), the theme's colours, and a small script
 * that swaps in the SVG the extension sends, fits it to the view, zooms and pans it (wheel with
 * Ctrl or Cmd, drag, the toolbar's buttons, the keyboard), reports the view's width (so the
 * extension lays the graph out top to bottom in a narrow column) and clicks on nodes. Zoom and
 * pan change the SVG's viewBox attribute, never a style, so the CSP holds. Pure: returns a string.
 */

export function graphHtml(nonce: string, title: string): string {
  const csp = [`default-src 'none'`, `img-src data:`, `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`, `font-src 'none'`, `connect-src 'none'`, `frame-src 'none'`, `form-action 'none'`, `base-uri 'none'`].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${title.replace(/[<>&"]/g, '')}</title>
<style nonce="${nonce}">
  html, body { height: 100%; }
  body { font-family: var(--vscode-font-family, sans-serif); font-size: var(--vscode-font-size, 13px); color: var(--vscode-foreground, #333); background: var(--vscode-editor-background, #fff); margin: 0; padding: 8px 10px; box-sizing: border-box; display: flex; flex-direction: column; overflow: hidden; }
  header { display: flex; flex-wrap: wrap; gap: 6px 12px; align-items: baseline; margin-bottom: 6px; flex: none; }
  .bar { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; flex: none; margin-bottom: 6px; }
  .bar button { min-width: 28px; }
  #zoom { min-width: 3.5em; text-align: center; font-variant-numeric: tabular-nums; }
  .sep { width: 8px; }
  #problem:empty { display: none; }
  h1 { font-size: 1.25em; margin: 0; font-weight: 600; }
  .muted { color: var(--vscode-descriptionForeground, #777); }
  .error { color: var(--vscode-errorForeground, #c00); }
  button { font: inherit; color: var(--vscode-button-foreground, #fff); background: var(--vscode-button-background, #0e639c); border: none; padding: 3px 10px; border-radius: 2px; cursor: pointer; }
  button:hover { background: var(--vscode-button-hoverBackground, #1177bb); }
  button.secondary { color: var(--vscode-button-secondaryForeground, #333); background: var(--vscode-button-secondaryBackground, #ddd); }
  button:focus-visible, #graph:focus-visible { outline: 1px solid var(--vscode-focusBorder, #0078d4); outline-offset: 1px; }
  #graph { flex: 1 1 auto; min-height: 120px; overflow: hidden; position: relative; cursor: grab; touch-action: none; border: 1px solid var(--vscode-editorWidget-border, transparent); border-radius: 2px; }
  #graph.dragging { cursor: grabbing; }
  #graph > svg { display: block; width: 100%; height: 100%; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 10px; font-size: 0.9em; margin-top: 6px; flex: none; }
  .legend span::before { content: ''; display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; background: var(--c); border: 1px solid var(--vscode-editorWidget-border, #999); }
  .legend .l-none { --c: var(--vscode-editorWidget-background, #f3f3f3); }
  .legend .l-running { --c: var(--vscode-charts-blue, #1a85ff); }
  .legend .l-succeeded { --c: var(--vscode-charts-green, #388a34); }
  .legend .l-fallback { --c: var(--vscode-charts-yellow, #bf8803); }
  .legend .l-failed { --c: var(--vscode-charts-red, #e51400); }
  .legend .l-skipped { --c: var(--vscode-disabledForeground, #999); }
  .legend .l-cancelled { --c: var(--vscode-charts-orange, #d18616); }
  svg.graph text { fill: var(--vscode-foreground, #333); font-family: var(--vscode-editor-font-family, monospace); font-size: 12px; }
  svg.graph .step-id { font-weight: bold; }
  svg.graph .step-template, svg.graph .step-flags { fill: var(--vscode-descriptionForeground, #777); font-size: 11px; }
  svg.graph .step-status { font-size: 10px; font-family: var(--vscode-font-family, sans-serif); }
  svg.graph .group rect { fill: none; stroke: var(--vscode-editorWidget-border, #aaa); stroke-dasharray: 5 4; }
  svg.graph .group.cycle rect { stroke: var(--vscode-errorForeground, #c00); }
  svg.graph .group-label { fill: var(--vscode-descriptionForeground, #777); font-size: 10px; font-family: var(--vscode-font-family, sans-serif); paint-order: stroke; stroke: var(--vscode-editor-background, #fff); stroke-width: 3px; stroke-linejoin: round; }
  svg.graph .edge { fill: none; stroke: var(--vscode-editorWidget-border, #888); stroke-width: 1.5; }
  svg.graph .edge.cycle { stroke: var(--vscode-errorForeground, #c00); stroke-width: 2; }
  svg.graph .arrowhead { fill: var(--vscode-editorWidget-border, #888); }
  svg.graph .arrowhead.cycle { fill: var(--vscode-errorForeground, #c00); }
  svg.graph .node { cursor: pointer; }
  svg.graph .node rect { fill: var(--vscode-editorWidget-background, #f3f3f3); stroke: var(--vscode-editorWidget-border, #999); stroke-width: 1.5; }
  svg.graph .node:hover rect, svg.graph .node:focus rect { stroke: var(--vscode-focusBorder, #0078d4); stroke-width: 2.5; }
  svg.graph .node:focus { outline: none; }
  svg.graph .node.in-cycle rect { stroke: var(--vscode-errorForeground, #c00); }
  svg.graph .node.skip rect { stroke-dasharray: 4 3; }
  svg.graph .status-pending rect { stroke-dasharray: 2 2; }
  svg.graph .status-running rect { stroke: var(--vscode-charts-blue, #1a85ff); stroke-width: 3; }
  svg.graph .status-succeeded rect { stroke: var(--vscode-charts-green, #388a34); stroke-width: 3; }
  svg.graph .status-fallback rect { stroke: var(--vscode-charts-yellow, #bf8803); stroke-width: 3; }
  svg.graph .status-failed rect { stroke: var(--vscode-charts-red, #e51400); stroke-width: 3; }
  svg.graph .status-skipped rect { stroke: var(--vscode-disabledForeground, #999); stroke-dasharray: 4 3; }
  svg.graph .status-skipped text { opacity: 0.7; }
  svg.graph .status-cancelled rect { stroke: var(--vscode-charts-orange, #d18616); stroke-width: 3; }
  svg.graph .status-succeeded .step-status { fill: var(--vscode-charts-green, #388a34); }
  svg.graph .status-running .step-status { fill: var(--vscode-charts-blue, #1a85ff); }
  svg.graph .status-fallback .step-status { fill: var(--vscode-charts-yellow, #bf8803); }
  svg.graph .status-failed .step-status { fill: var(--vscode-charts-red, #e51400); }
  svg.graph .status-cancelled .step-status { fill: var(--vscode-charts-orange, #d18616); }
  svg.graph .status-not_run rect { stroke-dasharray: 2 3; }
  svg.graph .status-not_run text { opacity: 0.75; }
  svg.graph .status-not_run .step-status { fill: var(--vscode-descriptionForeground, #777); font-style: italic; }
</style>
</head>
<body>
<header>
  <h1 id="title">${title.replace(/[<>&"]/g, '')}</h1>
  <span id="summary" class="muted">Loading…</span>
  <span id="run" class="muted"></span>
</header>
<div class="bar" role="toolbar" aria-label="Graph">
  <button id="btn-run" title="Run this workflow">Run</button>
  <button id="btn-refresh" class="secondary" title="Draw the graph again">Refresh</button>
  <span class="sep"></span>
  <button id="btn-zoom-out" class="secondary" title="Zoom out (-; or Ctrl+wheel)" aria-label="Zoom out">−</button>
  <span id="zoom" class="muted" aria-live="polite">100%</span>
  <button id="btn-zoom-in" class="secondary" title="Zoom in (+; or Ctrl+wheel)" aria-label="Zoom in">+</button>
  <button id="btn-fit" class="secondary" title="Fit the graph to the view (0)" aria-label="Fit to view">Fit</button>
</div>
<div id="problem" class="error"></div>
<div id="graph" tabindex="0" role="group" title="Ctrl+wheel zooms; drag, the wheel or the arrow keys pan; + - 0 zoom and fit" aria-label="Workflow graph: arrow keys pan, + and - zoom, 0 fits, Tab moves between steps"></div>
<div class="legend muted" aria-label="legend">
  <span class="l-none">not run</span><span class="l-running">running</span><span class="l-succeeded">succeeded</span><span class="l-fallback">fallback</span><span class="l-failed">failed</span><span class="l-skipped">skipped</span><span class="l-cancelled">cancelled</span>
</div>
<script nonce="${nonce}">
(function () {
  const vscode = acquireVsCodeApi();
  const $ = (id) => document.getElementById(id);
  const host = $('graph');
  /** Never shrink below this on fit: text stays readable, and the rest is a pan away. */
  const MIN_FIT = 0.6, MIN = 0.2, MAX = 4;
  const view = { w: 0, h: 0, scale: 1, x: 0, y: 0, auto: true, dir: '' };
  function setText(id, text) { $(id).textContent = text || ''; }
  function svgEl() { const s = host.firstElementChild; return s && s.nodeName === 'svg' ? s : null; }
  function size() { return { cw: Math.max(1, host.clientWidth), ch: Math.max(1, host.clientHeight) }; }
  function apply() {
    const svg = svgEl();
    if (!svg) return;
    const { cw, ch } = size();
    // Keep some of the drawing on screen whatever the pan.
    const vw = cw / view.scale, vh = ch / view.scale, keep = 40 / view.scale;
    view.x = Math.min(Math.max(view.x, keep - vw), Math.max(view.w - keep, 0));
    view.y = Math.min(Math.max(view.y, keep - vh), Math.max(view.h - keep, 0));
    svg.setAttribute('viewBox', [view.x, view.y, vw, vh].map((v) => Math.round(v * 100) / 100).join(' '));
    host.setAttribute('data-scale', String(Math.round(view.scale * 1000) / 1000));
    setText('zoom', Math.round(view.scale * 100) + '%');
  }
  function fit() {
    const { cw, ch } = size();
    if (!view.w || !view.h) return;
    view.scale = Math.min(1, Math.max(MIN_FIT, Math.min(cw / view.w, ch / view.h)));
    // Centred across, from the top down.
    view.x = (view.w - cw / view.scale) / 2;
    view.y = Math.min(0, (view.h - ch / view.scale) / 2);
    view.auto = true;
    apply();
  }
  function zoomAt(factor, px, py) {
    const next = Math.min(MAX, Math.max(MIN, view.scale * factor));
    const cx = view.x + px / view.scale, cy = view.y + py / view.scale;
    view.scale = next;
    view.x = cx - px / next;
    view.y = cy - py / next;
    view.auto = false;
    apply();
  }
  function zoomCentre(factor) { const { cw, ch } = size(); zoomAt(factor, cw / 2, ch / 2); }
  function panBy(dx, dy) { view.x += dx / view.scale; view.y += dy / view.scale; view.auto = false; apply(); }
  let sentWidth = -1, widthTimer;
  function reportWidth(now) {
    const w = host.clientWidth;
    if (Math.abs(w - sentWidth) < 2) return;
    clearTimeout(widthTimer);
    const send = () => { sentWidth = w; vscode.postMessage({ type: 'resize', width: w }); };
    if (now) send(); else widthTimer = setTimeout(send, 150);
  }
  window.addEventListener('message', (e) => {
    const m = e.data;
    if (!m || m.type !== 'graph') return;
    setText('title', m.title);
    setText('summary', m.summary);
    setText('run', m.run);
    setText('problem', m.problem);
    if (typeof m.svg === 'string') {
      const doc = new DOMParser().parseFromString(m.svg, 'image/svg+xml');
      const svg = doc.documentElement;
      if (svg && svg.nodeName === 'svg') {
        const w = Number(svg.getAttribute('width')) || 0, h = Number(svg.getAttribute('height')) || 0;
        const dir = svg.classList.contains('tb') ? 'tb' : 'lr';
        svg.removeAttribute('width');
        svg.removeAttribute('height');
        svg.setAttribute('preserveAspectRatio', 'xMinYMin meet');
        const focused = document.activeElement && document.activeElement.getAttribute && document.activeElement.getAttribute('data-step');
        host.replaceChildren(document.importNode(svg, true));
        // A new drawing of the same shape keeps the user's zoom; a new shape is fitted.
        const same = view.dir === dir && Math.abs(view.w - w) < 1 && Math.abs(view.h - h) < 1;
        view.w = w; view.h = h; view.dir = dir;
        host.setAttribute('data-direction', dir);
        if (view.auto || !same) fit(); else apply();
        if (focused) { const n = host.querySelector('[data-step="' + CSS.escape(focused) + '"]'); if (n) n.focus({ preventScroll: true }); }
      } else host.replaceChildren();
    }
    vscode.setState({ composition: m.composition, workspace: m.workspace });
  });
  function nodeOf(t) { return t && t.closest ? t.closest('[data-step]') : null; }
  function open(n) { vscode.postMessage({ type: 'open', step: n.getAttribute('data-step'), index: Number(n.getAttribute('data-index')) }); }
  let drag = null, moved = false;
  host.addEventListener('pointerdown', (e) => {
    moved = false;
    if (e.button !== 0 || nodeOf(e.target)) return;
    drag = { x: e.clientX, y: e.clientY, id: e.pointerId };
    host.setPointerCapture(e.pointerId);
    host.classList.add('dragging');
  });
  host.addEventListener('pointermove', (e) => {
    if (!drag || e.pointerId !== drag.id) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 2) moved = true;
    drag.x = e.clientX; drag.y = e.clientY;
    panBy(-dx, -dy);
  });
  const endDrag = () => { drag = null; host.classList.remove('dragging'); };
  host.addEventListener('pointerup', endDrag);
  host.addEventListener('pointercancel', endDrag);
  host.addEventListener('wheel', (e) => {
    e.preventDefault();
    const r = host.getBoundingClientRect();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? r.height : 1;
    if (e.ctrlKey || e.metaKey) zoomAt(Math.exp(-e.deltaY * unit * 0.002), e.clientX - r.left, e.clientY - r.top);
    else if (e.shiftKey && !e.deltaX) panBy(e.deltaY * unit, 0);
    else panBy(e.deltaX * unit, e.deltaY * unit);
  }, { passive: false });
  host.addEventListener('click', (e) => {
    const n = nodeOf(e.target);
    if (n && !moved) open(n);
  });
  host.addEventListener('keydown', (e) => {
    const n = nodeOf(e.target);
    if (n && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); open(n); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const step = 40;
    const keys = { ArrowLeft: () => panBy(-step, 0), ArrowRight: () => panBy(step, 0), ArrowUp: () => panBy(0, -step), ArrowDown: () => panBy(0, step), '+': () => zoomCentre(1.25), '=': () => zoomCentre(1.25), '-': () => zoomCentre(0.8), '0': fit };
    const f = keys[e.key];
    if (f) { e.preventDefault(); f(); }
  });
  // A step reached with Tab is brought into view.
  host.addEventListener('focusin', (e) => {
    const n = nodeOf(e.target);
    const rect = n && n.querySelector('rect');
    if (!rect) return;
    const b = rect.getBBox(), { cw, ch } = size(), vw = cw / view.scale, vh = ch / view.scale;
    if (b.x >= view.x && b.y >= view.y && b.x + b.width <= view.x + vw && b.y + b.height <= view.y + vh) return;
    view.x = b.x + b.width / 2 - vw / 2;
    view.y = b.y + b.height / 2 - vh / 2;
    view.auto = false;
    apply();
  });
  $('btn-zoom-in').addEventListener('click', () => zoomCentre(1.25));
  $('btn-zoom-out').addEventListener('click', () => zoomCentre(0.8));
  $('btn-fit').addEventListener('click', fit);
  $('btn-run').addEventListener('click', () => vscode.postMessage({ type: 'run' }));
  $('btn-refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
  new ResizeObserver(() => { if (view.auto) fit(); else apply(); reportWidth(false); }).observe(host);
  sentWidth = host.clientWidth;
  vscode.postMessage({ type: 'ready', width: sentWidth });
})();
</script>
</body>
</html>`;
}
