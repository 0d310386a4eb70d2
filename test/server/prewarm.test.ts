/**
 * A big workspace's first validation starts on two cores: the server analyzes templates in a
 * worker thread while it parses the YAML. Over real LSP: the worker runs (the trace says so),
 * its analyses are used, and what the server publishes equals a fresh validation, including a
 * template that is broken and one whose text the editor holds in an unsaved buffer.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { validateWorkspace } from '../../core/validate/validateWorkspace.js';
import { PREWARM_MIN_TEMPLATES } from '../../server/workspaceManager.js';
import { tempWorkspace } from '../helpers/paths.js';
import { LspClient, uri } from './lsp.js';

function bigWorkspace(n: number): Record<string, string> {
  const files: Record<string, string> = {
    'service_mappings.yaml': `version: 1\ntemplates_dir: prompts\nservices:\n  svc:\n    templates: [${Array.from({ length: n }, (_, i) => `t/t${i}`).join(', ')}]\n`,
    'composition_rules.yaml': [
      'version: 1',
      'compositions:',
      '  flow:',
      '    description: uses a few',
      '    inputs: [name]',
      '    steps:',
      '      - id: a',
      '        template: t/t1',
      '      - id: b',
      '        template: t/t2',
      '        depends_on: [a]',
      '',
    ].join('\n'),
  };
  for (let i = 0; i < n; i++) files[`prompts/t/t${i}.hbs`] = `Template ${i} for {{name}}.\n{{#if extra}}{{extra}}{{/if}}\n`;
  files['prompts/t/t7.hbs'] = 'Broken {{#each items}}\n';
  return files;
}

test('prewarm: a workspace with many templates is analyzed in a worker, and the first diagnostics equal a fresh validation', async () => {
  const dir = tempWorkspace(bigWorkspace(PREWARM_MIN_TEMPLATES + 20));
  const unsaved = path.join(dir, 'prompts/t/t9.hbs');
  const c = await LspClient.start({ folders: [dir], settings: { trace: { server: 'verbose' } }, beforeInitialized: async (client) => void (await client.open(unsaved, 'Unsaved {{#if x}}\n')) });
  try {
    await c.until(() => c.logs.some((l) => /prewarm: .* template\(s\) analyzed in a worker/.test(l.message)), 10_000, 'the prewarm trace');
    const line = c.logs.find((l) => /prewarm/.test(l.message))!.message;
    const count = Number(/(\d+) template\(s\)/.exec(line)![1]);
    assert.equal(count, PREWARM_MIN_TEMPLATES + 20, line);
    await c.settle();
    const fresh = validateWorkspace(dir, { overlays: new Map([[unsaved, 'Unsaved {{#if x}}\n']]) });
    const byUri = new Map<string, string[]>();
    for (const d of fresh.diagnostics) {
      const u = uri(d.file);
      byUri.set(u, [...(byUri.get(u) ?? []), `${d.code}@${d.range.start.line}:${d.range.start.character}`]);
    }
    assert.ok(fresh.diagnostics.some((d) => d.code === 'template-syntax' && d.file.endsWith('t7.hbs')));
    assert.ok(fresh.diagnostics.some((d) => d.code === 'template-syntax' && d.file.endsWith('t9.hbs')), 'the unsaved buffer wins over the analysis of the file on disk');
    const published = new Map<string, string[]>();
    for (const [u, ds] of c.diagnostics) if (ds.length) published.set(u, ds.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.character}`));
    assert.deepEqual([...published].sort(), [...byUri].sort());
  } finally {
    await c.stop();
  }
});

test('prewarm: a small workspace starts no worker', async () => {
  const dir = tempWorkspace(bigWorkspace(10));
  const c = await LspClient.start({ folders: [dir], settings: { trace: { server: 'verbose' } } });
  try {
    await c.until(() => c.logs.some((l) => /validated /.test(l.message)), 10_000, 'the first validation');
    assert.ok(!c.logs.some((l) => /analyzed in a worker/.test(l.message)), c.logs.map((l) => l.message).join('\n'));
  } finally {
    await c.stop();
  }
});
