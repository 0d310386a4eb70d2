/**
 * The workflow graph webview's page: a strict Content-Security-Policy (nothing from the network,
 * no inline code but the one nonce'd script and style), the theme's colours, and a small script
 * that swaps in the SVG the extension sends and reports clicks on nodes. Pure: returns a string.
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
  body { font-family: var(--vscode-font-family, sans-serif); font-size: var(--vscode-font-size, 13px); color: var(--vscode-foreground, #333); background: var(--vscode-editor-background, #fff); margin: 0; padding: 12px 16px; }
  header { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: baseline; margin-bottom: 8px; }
  h1 { font-size: 1.25em; margin: 0; font-weight: 600; }
  .muted { color: var(--vscode-descriptionForeground, #777); }
  .error { color: var(--vscode-errorForeground, #c00); }
  button { font: inherit; color: var(--vscode-button-foreground, #fff); background: var(--vscode-button-background, #0e639c); border: none; padding: 3px 10px; border-radius: 2px; cursor: pointer; }
  button:hover { background: var(--vscode-button-hoverBackground, #1177bb); }
  button.secondary { color: var(--vscode-button-secondaryForeground, #333); background: var(--vscode-button-secondaryBackground, #ddd); }
  #graph { overflow: auto; }
  .legend { display: flex; flex-wrap: wrap; gap: 10px; font-size: 0.9em; margin-top: 10px; }
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
  svg.graph .group-label { fill: var(--vscode-descriptionForeground, #777); font-size: 10px; font-family: var(--vscode-font-family, sans-serif); }
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
</style>
</head>
<body>
<header>
  <h1 id="title">${title.replace(/[<>&"]/g, '')}</h1>
  <span id="summary" class="muted">Loading…</span>
  <span id="run" class="muted"></span>
  <button id="btn-run" title="Run this workflow">Run</button>
  <button id="btn-refresh" class="secondary" title="Draw the graph again">Refresh</button>
</header>
<div id="problem" class="error"></div>
<div id="graph" aria-live="polite"></div>
<div class="legend muted" aria-label="legend">
  <span class="l-none">not run</span><span class="l-running">running</span><span class="l-succeeded">succeeded</span><span class="l-fallback">fallback</span><span class="l-failed">failed</span><span class="l-skipped">skipped</span><span class="l-cancelled">cancelled</span>
</div>
<script nonce="${nonce}">
(function () {
  const vscode = acquireVsCodeApi();
  const $ = (id) => document.getElementById(id);
  function setText(id, text) { $(id).textContent = text || ''; }
  window.addEventListener('message', (e) => {
    const m = e.data;
    if (!m || m.type !== 'graph') return;
    setText('title', m.title);
    setText('summary', m.summary);
    setText('run', m.run);
    setText('problem', m.problem);
    const host = $('graph');
    if (typeof m.svg === 'string') {
      const doc = new DOMParser().parseFromString(m.svg, 'image/svg+xml');
      const svg = doc.documentElement;
      if (svg && svg.nodeName === 'svg') host.replaceChildren(document.importNode(svg, true));
      else host.replaceChildren();
    }
    vscode.setState({ composition: m.composition, workspace: m.workspace });
  });
  function nodeOf(t) { return t && t.closest ? t.closest('[data-step]') : null; }
  $('graph').addEventListener('click', (e) => {
    const n = nodeOf(e.target);
    if (n) vscode.postMessage({ type: 'open', step: n.getAttribute('data-step'), index: Number(n.getAttribute('data-index')) });
  });
  $('graph').addEventListener('keydown', (e) => {
    const n = nodeOf(e.target);
    if (n && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); vscode.postMessage({ type: 'open', step: n.getAttribute('data-step'), index: Number(n.getAttribute('data-index')) }); }
  });
  $('btn-run').addEventListener('click', () => vscode.postMessage({ type: 'run' }));
  $('btn-refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
  vscode.postMessage({ type: 'ready' });
})();
</script>
</body>
</html>`;
}
