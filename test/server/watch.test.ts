/**
 * Templates created, changed or deleted outside the editor, in clients with and without
 * dynamic registration of workspace/didChangeWatchedFiles (Neovim 0.7 has none): the server
 * watches the workspace itself only when the client cannot, and didOpen/didSave of a template
 * update the index in any client. Plus the server's watcher on its own (server/folderWatcher.ts).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { CodeAction, CreateFile, TextDocumentEdit } from 'vscode-languageserver-protocol';
import { FolderWatcher, type FolderChange } from '../../server/folderWatcher.js';
import { applyEdits } from './fixture.js';
import { LspClient, uri, writeFiles } from './lsp.js';

const RULES = `version: 1
compositions:
  review:
    inputs: { required: [document] }
    steps:
      - id: first
        template: review/old
      - id: second
        template: review/new
        depends_on: [first]
      - id: third
        template: deep/er/t
        depends_on: [second]
`;

/** A prompt workspace (in `sub` of a new folder, when given); returns the prompt workspace's folder. */
function workspace(sub = ''): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pm-watch-')), sub);
  writeFiles(dir, { 'composition_rules.yaml': RULES, 'templates/review/old.hbs': 'Old {{document}}\n' });
  return dir;
}

/** What an editor without dynamic registration of file watchers (Neovim 0.7) offers. */
const NO_WATCHER_REGISTRATION = {
  workspace: {
    configuration: true,
    workspaceFolders: true,
    didChangeWatchedFiles: { dynamicRegistration: false },
    workspaceEdit: { documentChanges: true, resourceOperations: ['create', 'rename', 'delete'] },
  },
};

/** inotify watches the process holds (Linux), from /proc. */
function inotifyWatches(pid: number): number {
  let n = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (!fs.readlinkSync(`/proc/${pid}/fd/${fd}`).includes('inotify')) continue;
      n += fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

const unknownTemplates = (c: LspClient, file: string) => (c.diagnostics.get(uri(file)) ?? []).filter((d) => d.code === 'unknown-template').map((d) => /template '([^']+)'/.exec(String(d.message))?.[1]).sort();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a client without watcher registration: the server watches itself, sees templates created, changed, deleted and new folders, and stops on shutdown', async () => {
  // The editor's folder holds the prompt workspace app/, and later a second one.
  const dir = workspace('app');
  const folder = path.dirname(dir);
  const rules = path.join(dir, 'composition_rules.yaml');
  const c = await LspClient.start({ folders: [folder], capabilities: NO_WATCHER_REGISTRATION });
  try {
    await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).length === 2, 10000);
    assert.deepEqual(unknownTemplates(c, rules), ['deep/er/t', 'review/new']);
    assert.deepEqual(c.registrations, [], 'nothing registered with such a client');
    assert.ok(c.logs.some((l) => /the server watches 1 folder\(s\) itself/.test(l.message)), JSON.stringify(c.logs));
    assert.ok(inotifyWatches(c.child.pid!) > 0, 'the server holds watches');

    // Nothing is sent to the server: it must see these on disk.
    fs.writeFileSync(path.join(dir, 'templates/review/new.hbs'), 'New {{document}}\n');
    await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).join() === 'deep/er/t', 10000);
    fs.writeFileSync(path.join(dir, 'templates/review/new.hbs'), 'New {{document}} in a {{mood}} mood\n');
    await c.diagnosticsOf(rules, (ds) => ds.some((d) => d.code === 'undeclared-variable' && /'mood'/.test(String(d.message))), 10000);
    fs.mkdirSync(path.join(dir, 'templates/deep/er'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'templates/deep/er/t.hbs'), 'Deep\n');
    await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).length === 0, 10000);
    fs.rmSync(path.join(dir, 'templates/review/new.hbs'));
    await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).join() === 'review/new', 10000);
    // A folder removed with its templates.
    fs.rmSync(path.join(dir, 'templates/deep'), { recursive: true });
    await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).join() === 'deep/er/t,review/new', 10000);
    // A new prompt workspace: its YAML file appears in a new folder.
    const other = path.join(folder, 'other', 'composition_rules.yaml');
    writeFiles(folder, { 'other/templates/x.hbs': 'X\n' });
    fs.writeFileSync(other, 'version: 1\ncompositions:\n  c:\n    steps:\n      - id: a\n        template: y\n');
    await c.diagnosticsOf(other, () => unknownTemplates(c, other).join() === 'y', 10000);

    await c.request('shutdown', undefined);
    assert.equal(inotifyWatches(c.child.pid!), 0, 'the watches are closed on shutdown');
  } finally {
    await c.stop();
  }
});

test('a client without watcher registration: the "Create template" quick fix, then the new file opened, clears unknown-template', async () => {
  const dir = workspace();
  const rules = path.join(dir, 'composition_rules.yaml');
  const c = await LspClient.start({ folders: [dir], capabilities: NO_WATCHER_REGISTRATION });
  try {
    const text = await c.open(rules);
    const ds = await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).length === 2, 10000);
    const d = ds.find((x) => x.code === 'unknown-template' && /review\/new/.test(String(x.message)))!;
    const actions = await c.request<CodeAction[]>('textDocument/codeAction', { textDocument: { uri: uri(rules) }, range: d.range, context: { diagnostics: [d] } });
    const create = actions.find((a) => a.title.startsWith('Create template'))!;
    const [op, textEdit] = create.edit!.documentChanges! as [CreateFile, TextDocumentEdit];
    // As Neovim applies it: the file is created empty on disk, the skeleton goes into its buffer.
    const file = path.join(dir, 'templates/review/new.hbs');
    assert.equal(op.uri, uri(file));
    fs.writeFileSync(file, '');
    await c.open(file, applyEdits('', textEdit.edits as never));
    await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).join() === 'deep/er/t', 10000);
    assert.equal(text, fs.readFileSync(rules, 'utf8'));
  } finally {
    await c.stop();
  }
});

test('a client that registers watchers: the server does not watch too, and didOpen/didSave of a new template update the index', async () => {
  const dir = workspace();
  const rules = path.join(dir, 'composition_rules.yaml');
  const c = await LspClient.start({ folders: [dir] });
  try {
    await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).length === 2, 10000);
    await c.until(() => c.registrations.some((r) => (r as { method: string }).method === 'workspace/didChangeWatchedFiles'), 5000, 'the watcher registration');
    assert.equal(inotifyWatches(c.child.pid!), 0, 'no watches of its own: events come from the client only');
    assert.ok(!c.logs.some((l) => /watches .* itself/.test(l.message)));

    // Created on disk; this client sends no event (as if its watcher missed it): not seen...
    const file = path.join(dir, 'templates/review/new.hbs');
    fs.writeFileSync(file, 'New {{document}}\n');
    await sleep(1000);
    assert.deepEqual(unknownTemplates(c, rules), ['deep/er/t', 'review/new']);
    // ...until the file is opened.
    await c.open(file);
    await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).join() === 'deep/er/t', 10000);

    // A buffer for a file not yet on disk, then saved (`:e deep/er/t.hbs`, `:w`).
    const deep = path.join(dir, 'templates/deep/er/t.hbs');
    await c.open(deep, 'Deep\n');
    await sleep(300);
    fs.mkdirSync(path.dirname(deep), { recursive: true });
    fs.writeFileSync(deep, 'Deep\n');
    await c.conn.sendNotification('textDocument/didSave', { textDocument: { uri: uri(deep) } });
    await c.diagnosticsOf(rules, () => unknownTemplates(c, rules).length === 0, 10000);
  } finally {
    await c.stop();
  }
});

test('folderWatcher: reports templates and folders, never node_modules, dot-folders or a symlink target outside, and stops when closed', async () => {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-fw-'));
  const root = path.join(base, 'ws');
  const outside = path.join(base, 'outside');
  writeFiles(root, { 'templates/a.hbs': 'A', 'node_modules/p/index.js': 'x', '.git/HEAD': 'x', 'notes.txt': 'x' });
  writeFiles(outside, { 'o.hbs': 'outside' });
  fs.symlinkSync(outside, path.join(root, 'templates', 'linked'));
  const seen: FolderChange[] = [];
  const problems: string[] = [];
  const w = new FolderWatcher({ delayMs: 10, accept: (f) => f.endsWith('.hbs'), onChanges: (cs) => seen.push(...cs), onProblem: (m) => problems.push(m) });
  w.add(root);
  const rel = () => seen.map((c) => `${c.type} ${path.relative(root, c.path)}${c.folder ? '/' : ''}`).sort();
  const until = async (want: string[], what: string) => {
    for (let i = 0; i < 200 && !want.every((x) => rel().includes(x)); i++) await sleep(25);
    assert.deepEqual(want.filter((x) => !rel().includes(x)), [], `${what}: got ${rel().join(', ')}`);
  };
  try {
    assert.equal(w.folderCount, 2, 'the root and templates/: not node_modules, .git or the link');
    fs.writeFileSync(path.join(outside, 'o.hbs'), 'changed through nothing we watch');
    writeFiles(root, { 'node_modules/p/new.hbs': 'x', '.git/x.hbs': 'x', 'notes.txt': 'changed' });
    fs.writeFileSync(path.join(root, 'templates/b.hbs'), 'B');
    await until(['created templates/b.hbs'], 'a new template');
    fs.mkdirSync(path.join(root, 'templates/new/deeper'), { recursive: true });
    await until(['created templates/new/'], 'a new folder');
    fs.writeFileSync(path.join(root, 'templates/new/deeper/c.hbs'), 'C');
    await until(['created templates/new/deeper/c.hbs'], 'a template in a new folder');
    seen.length = 0;
    fs.appendFileSync(path.join(root, 'templates/a.hbs'), 'more');
    await until(['changed templates/a.hbs'], 'a template written');
    fs.rmSync(path.join(root, 'templates/new'), { recursive: true });
    await until(['deleted templates/new/'], 'a folder removed');
    await sleep(200);
    assert.ok(!rel().some((x) => /node_modules|\.git|notes|linked|outside/.test(x)), rel().join(', '));
    assert.equal(w.folderCount, 2, 'the removed folders are no longer watched');
    assert.deepEqual(problems, []);
  } finally {
    w.close();
  }
  assert.equal(w.folderCount, 0);
  seen.length = 0;
  fs.writeFileSync(path.join(root, 'templates/d.hbs'), 'D');
  await sleep(200);
  assert.deepEqual(seen, [], 'nothing after close');

  const cappedProblems: string[] = [];
  const capped = new FolderWatcher({ maxFolders: 1, accept: () => true, onChanges: () => {}, onProblem: (m) => cappedProblems.push(m) });
  capped.add(root);
  assert.equal(capped.folderCount, 1);
  assert.match(cappedProblems.join(), /more than 1 folders/);
  capped.close();
  fs.rmSync(base, { recursive: true, force: true });
});
