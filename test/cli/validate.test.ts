/** The `promptmanager validate` command as CI uses it: exit codes and both output formats. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CLI, EXAMPLES, tempWorkspace } from '../helpers/paths.js';

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('validate examples: clean, exit 0, one-line summary', () => {
  const r = run(['validate', 'examples'], path.dirname(EXAMPLES));
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^0 errors, 0 warnings, \d+ information in 1 prompt workspace\n$/m);
});

test('validate examples/broken: each folder gives the code it is named after', () => {
  const broken = path.join(EXAMPLES, 'broken');
  const r = run(['validate', broken, '--format', 'json'], path.dirname(EXAMPLES));
  assert.equal(r.code, 1);
  const diags = JSON.parse(r.stdout) as { file: string; code: string; severity: string }[];
  const cases = fs.readdirSync(broken, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  assert.ok(cases.length >= 13, 'one broken workspace per code');
  for (const name of cases) {
    const mine = diags.filter((d) => d.file.startsWith(path.join(broken, name) + path.sep));
    const codes = new Set(mine.filter((d) => d.severity !== 'information' || name === 'unused-template').map((d) => d.code));
    assert.deepEqual([...codes], [name], `examples/broken/${name} reports exactly ${name}`);
  }
});

test('text format: path:line:col: severity code message, exit 1 on an error', () => {
  const dir = tempWorkspace({ 'composition_rules.yaml': 'version: 1\ncompositions:\n  f:\n    steps:\n      - id: a\n        template: nope\n' });
  const r = run(['validate', '.'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /^composition_rules\.yaml:6:19: error unknown-template template 'nope' not found/m);
  assert.match(r.stdout, /^1 error, 0 warnings, 0 information in 1 prompt workspace$/m);
});

test('json format: every field, absolute file, 1-based positions', () => {
  const dir = tempWorkspace({ 'composition_rules.yaml': 'version: 1\ncompositions:\n  f:\n    steps:\n      - id: a\n        template: nope\n' });
  const r = run(['validate', '--format', 'json'], dir);
  assert.equal(r.code, 1);
  const [d] = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(d).sort(), ['code', 'column', 'endColumn', 'endLine', 'file', 'line', 'message', 'related', 'severity']);
  assert.equal(d.file, fs.realpathSync(path.join(dir, 'composition_rules.yaml')).replace(fs.realpathSync(dir), dir));
  assert.deepEqual([d.line, d.column, d.endLine, d.endColumn, d.severity, d.code], [6, 19, 6, 23, 'error', 'unknown-template']);
});

test('warnings alone exit 0', () => {
  const dir = tempWorkspace({ 'templates/a.hbs': '{{who}}', 'composition_rules.yaml': 'version: 1\ncompositions:\n  f:\n    steps:\n      - id: a\n        template: a\n' });
  const r = run(['validate'], dir);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /warning undeclared-variable/);
});

test('no prompt workspace: a clear message and exit 1', () => {
  const dir = tempWorkspace({ 'README.md': 'nothing here' });
  const r = run(['validate', '.'], dir);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no prompt workspace under \. \(looked for service_mappings\.yaml or composition_rules\.yaml\)/);
});

test('usage errors exit 64 and say what to do', () => {
  const r = run(['validate', '--format', 'xml'], process.cwd());
  assert.equal(r.code, 64);
  assert.match(r.stderr, /--format must be text or json/);
});
