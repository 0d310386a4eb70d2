/**
 * What diagnostics the server sends (server/diagnosticsPublisher.ts), without a connection:
 * the server's WorkspaceManager over a fixture, and the publications captured.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import type { PublishDiagnosticsParams } from 'vscode-languageserver/node';
import { DEFAULT_SETTINGS } from '../../protocol/protocol.js';
import { DiagnosticsPublisher, needsPublishing } from '../../server/diagnosticsPublisher.js';
import { WorkspaceManager } from '../../server/workspaceManager.js';
import { COMPOSITION_RULES, removeDir, writeWorkspace } from '../core/manager/fixtures.js';

test('needsPublishing: a file goes out again when its diagnostics or its open buffer\'s version changed', () => {
  assert.ok(needsPublishing(undefined, '[]', undefined), 'never sent');
  assert.ok(!needsPublishing({ json: '[]', generation: 1 }, '[]', undefined));
  assert.ok(needsPublishing({ json: '[]', generation: 1 }, '[{"x":1}]', undefined));
  assert.ok(!needsPublishing({ json: '[]', generation: 1, version: 3 }, '[]', 3));
  assert.ok(needsPublishing({ json: '[]', generation: 1, version: 3 }, '[]', 4), 'the client drops diagnostics of an older version');
  assert.ok(needsPublishing({ json: '[]', generation: 1 }, '[]', 1), 'sent while closed, now open');
});

function setup() {
  // The fixture without its one warning (a variable its composition does not declare): no diagnostics at all.
  const dir = writeWorkspace({ 'composition_rules.yaml': COMPOSITION_RULES.replace('optional: [user_id,', 'optional: [items, user_id,') });
  const manager = new WorkspaceManager();
  manager.folders.set(dir, { uri: pathToFileURL(dir).href });
  const [ws] = manager.discover(dir);
  assert.ok(ws);
  assert.deepEqual(manager.validate(ws).diagnostics, []);
  const sent: PublishDiagnosticsParams[] = [];
  const publisher = new DiagnosticsPublisher(manager, (p) => sent.push(p));
  const file = (rel: string) => path.join(dir, rel);
  const uri = (rel: string) => pathToFileURL(file(rel)).href;
  /** The publications since the last call, as `relative path: codes (version)`. */
  const take = () => sent.splice(0).map((p) => `${path.relative(dir, new URL(p.uri).pathname)}: ${p.diagnostics.map((d) => d.code).join(',') || '-'}${p.version !== undefined ? ` (v${p.version})` : ''}`).sort();
  return { dir, manager, ws, publisher, file, uri, take };
}

test('only what changed goes out: new problems, problems gone, open files checked, new buffer versions', () => {
  const s = setup();
  try {
    const { manager, ws, publisher, file, take } = s;
    const unused = file('templates/unused.hbs');
    fs.writeFileSync(unused, 'nobody renders me');
    manager.fileChanged(unused);
    manager.validate(ws);
    publisher.publish(ws);
    assert.deepEqual(take(), ['templates/unused.hbs: unused-template']);
    assert.ok(publisher.isPublished(ws));
    publisher.publish(ws);
    assert.deepEqual(take(), [], 'nothing changed');

    // An open file the validation covered gets an answer, with its version, even without problems.
    const mappings = file('service_mappings.yaml');
    manager.open.set(mappings, { uri: s.uri('service_mappings.yaml'), text: fs.readFileSync(mappings, 'utf8'), version: 1 });
    manager.validate(ws);
    assert.ok(!publisher.isPublished(ws));
    publisher.publish(ws);
    assert.deepEqual(take(), ['service_mappings.yaml: - (v1)']);
    // A keystroke that changes no diagnostic: the new version is sent, nothing else.
    manager.open.set(mappings, { ...manager.open.get(mappings)!, version: 2 });
    manager.validate(ws);
    publisher.publish(ws);
    assert.deepEqual(take(), ['service_mappings.yaml: - (v2)']);

    // The problem is fixed: the file is cleared once.
    fs.rmSync(unused);
    manager.fileChanged(unused);
    manager.validate(ws);
    publisher.publish(ws);
    assert.deepEqual(take(), ['templates/unused.hbs: -']);
    publisher.publish(ws);
    assert.deepEqual(take(), []);
  } finally {
    removeDir(s.dir);
  }
});

test('settings filter what goes out; invalidate sends every file again; an older validation is not published', () => {
  const s = setup();
  try {
    const { manager, ws, publisher, file, take } = s;
    fs.writeFileSync(file('templates/unused.hbs'), 'nobody renders me');
    manager.fileChanged(file('templates/unused.hbs'));
    manager.setSettings(s.dir, { ...DEFAULT_SETTINGS, diagnostics: { disabledCodes: ['unused-template'] } });
    manager.validate(ws);
    publisher.publish(ws);
    assert.deepEqual(take(), []);
    manager.setSettings(s.dir, DEFAULT_SETTINGS);
    publisher.invalidate(ws);
    publisher.publish(ws);
    assert.deepEqual(take(), ['templates/unused.hbs: unused-template']);
    publisher.invalidate(ws);
    publisher.publish(ws);
    assert.deepEqual(take(), ['templates/unused.hbs: unused-template'], 'sent again though unchanged');

    // A validation older than the last published one (it finished late) is dropped.
    const latest = ws.generation;
    ws.generation = latest - 1;
    fs.rmSync(file('templates/unused.hbs'));
    manager.fileChanged(file('templates/unused.hbs'));
    const v = manager.validate(ws);
    assert.equal(ws.generation, latest);
    ws.generation = latest - 1;
    publisher.publish(ws);
    assert.deepEqual(take(), []);
    ws.generation = latest;
    assert.ok(v.diagnostics.every((d) => d.code !== 'unused-template'));
    publisher.publish(ws);
    assert.deepEqual(take(), ['templates/unused.hbs: -']);
  } finally {
    removeDir(s.dir);
  }
});

test('a workspace gone clears its files; a closed file of no workspace is cleared', () => {
  const s = setup();
  try {
    const { manager, ws, publisher, file, take } = s;
    const stray = file('templates/stray.hbs');
    fs.writeFileSync(stray, '{{#if}}');
    manager.fileChanged(stray);
    manager.validate(ws);
    publisher.publish(ws);
    assert.deepEqual(take(), ['templates/stray.hbs: template-syntax,unused-template']);
    publisher.clearWorkspace(ws);
    assert.deepEqual(take(), ['templates/stray.hbs: -']);
    publisher.clearWorkspace(ws);
    assert.deepEqual(take(), [], 'already clear');

    publisher.invalidate(ws);
    publisher.publish(ws);
    assert.deepEqual(take(), ['templates/stray.hbs: template-syntax,unused-template']);
    publisher.clearOrphan(stray);
    assert.deepEqual(take(), [], 'still a file of the workspace');
    manager.removeFolder(s.dir);
    publisher.clearOrphan(stray);
    assert.deepEqual(take(), ['templates/stray.hbs: -']);
    publisher.clearOrphan(stray);
    assert.deepEqual(take(), []);
  } finally {
    removeDir(s.dir);
  }
});
