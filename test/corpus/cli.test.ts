/**
 * The bad-input corpus through the CLI (`node dist/cli.js`), as CI runs it: `validate` over the
 * whole corpus answers every case with its codes in valid JSON, exits 1 and never prints a
 * stack trace; `render` of a hostile template exits 1 with `[limit_exceeded]`, or with
 * `[render_budget_exceeded]` within 2 s for one that burns CPU without writing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CLI } from '../helpers/paths.js';
import { corpusCases, nestedLists, OUTSIDE_SECRET, silentList, writeCorpus, type WrittenCorpus } from './cases.js';
import { GOAL_MS, HANG_GUARD_MS, RENDER_STOP_MS } from './support.js';

const cases = corpusCases();
let corpus: WrittenCorpus;

before(() => {
  corpus = writeCorpus(cases);
});
after(() => corpus.remove());

function cli(args: string[], cwd: string, timeout = HANG_GUARD_MS * 4) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 });
  return { ...r, ms: performance.now() - t0 };
}

/** A stack trace line (`    at fn (file:1:2)`): the CLI must say what is wrong, never dump one. */
const STACK = /^\s+at .+:\d+:\d+\)?$/m;

test('corpus/cli: validate over the whole corpus reports every case, as JSON, exit 1', { skip: !fs.existsSync(CLI) && 'dist/cli.js is not built' }, (t) => {
  const r = cli(['validate', corpus.root, '--format', 'json'], corpus.root);
  const written = [...corpus.dirs.keys()];
  t.diagnostic(`${written.length} workspaces in ${r.ms.toFixed(0)} ms (${(r.ms / written.length).toFixed(0)} ms each on average, goal ${GOAL_MS} ms each)`);
  assert.equal(r.error, undefined, `the CLI did not finish: ${r.error}`);
  assert.equal(r.status, 1, r.stderr);
  assert.doesNotMatch(r.stderr, STACK);
  assert.ok(r.ms < written.length * GOAL_MS, `took ${r.ms.toFixed(0)} ms for ${written.length} workspaces`);
  const diagnostics = JSON.parse(r.stdout) as { file: string; line: number; column: number; code: string; severity: string; message: string }[];
  assert.ok(Array.isArray(diagnostics));
  for (const c of cases) {
    const dir = corpus.dirs.get(c.name);
    if (!dir) continue;
    const mine = diagnostics.filter((d) => d.file.startsWith(dir + path.sep));
    const codes = new Set(mine.map((d) => d.code));
    for (const code of c.codes) assert.ok(codes.has(code), `${c.name}: expected ${code}, got ${[...codes].join(', ') || 'nothing'}`);
    for (const code of c.notCodes ?? []) assert.ok(!codes.has(code), `${c.name}: did not expect ${code}`);
    if (!c.codes.length) assert.ok(!mine.some((d) => d.severity === 'error'), `${c.name}: expected no errors, got ${mine.map((d) => d.message).join(' | ')}`);
    for (const d of mine) {
      assert.ok(d.line >= 1 && d.column >= 1, `${c.name}: position ${d.line}:${d.column}`);
      assert.ok(!d.message.includes(OUTSIDE_SECRET));
    }
  }
});

test('corpus/cli: the 10 MB file and the alias bomb alone, each within the goal', { skip: !fs.existsSync(CLI) && 'dist/cli.js is not built' }, (t) => {
  for (const name of ['yaml-10mb', 'yaml-alias-bomb', 'yaml-many-top-keys']) {
    const r = cli(['validate', corpus.dirs.get(name)!], corpus.root);
    t.diagnostic(`${name}: ${r.ms.toFixed(0)} ms (node start-up included)`);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /error yaml-syntax .*limit|error yaml-syntax .*values|error yaml-syntax .*entries/);
    assert.doesNotMatch(r.stdout + r.stderr, STACK);
    assert.ok(r.ms < HANG_GUARD_MS, `${name}: ${r.ms.toFixed(0)} ms`);
  }
});

test('corpus/cli: render of a self-including partial, of a gigabyte output and of nested json helpers: exit 1, [limit_exceeded]', { skip: !fs.existsSync(CLI) && 'dist/cli.js is not built' }, (t) => {
  const ctx = path.join(corpus.root, 'huge.json');
  fs.writeFileSync(ctx, JSON.stringify({ name: 'x', items: new Array(2000).fill(0), big: 'y'.repeat(10_000) }));
  const runs = [
    { dir: 'tpl-self-partial', args: ['render', 't', '--context', ctx] },
    { dir: 'tpl-mutual-partials', args: ['render', 'a', '--context', ctx] },
    { dir: 'tpl-huge-output', args: ['render', 'boom', '--context', ctx] },
    { dir: 'tpl-nested-json', args: ['render', 'nested_json', '--context', ctx] },
  ];
  for (const { dir, args } of runs) {
    const r = cli([...args, '--dir', corpus.dirs.get(dir)!], corpus.root);
    t.diagnostic(`${dir}: ${r.ms.toFixed(0)} ms`);
    assert.equal(r.status, 1, `${dir}: ${r.stderr}`);
    assert.match(r.stderr, /\[limit_exceeded\]/, dir);
    assert.doesNotMatch(r.stderr, STACK);
    assert.equal(r.stdout, '');
  }
  // The workspace that loads still renders normally through the CLI.
  const ok = cli(['render', 'big', '--context', ctx, '--dir', corpus.dirs.get('tpl-1mb-prose')!], corpus.root);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(ok.stdout.length > 1_000_000);
});

test('corpus/cli: render of nested each blocks and of a huge silent each: exit 1, [render_budget_exceeded], within 2 s', { skip: !fs.existsSync(CLI) && 'dist/cli.js is not built' }, (t) => {
  const small = path.join(corpus.root, 'small.json');
  fs.writeFileSync(small, JSON.stringify(nestedLists(10)));
  // A normal render first: what node's start-up and the loading of the workspace cost here.
  const ok = cli(['render', 'nested', '--context', small, '--dir', corpus.dirs.get('tpl-nested-each')!], corpus.root);
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout, 'Nothing to write:\n');
  t.diagnostic(`a normal render: ${ok.ms.toFixed(0)} ms (node start-up and load included)`);
  const runs = [
    { dir: 'tpl-nested-each', template: 'nested', ctx: path.join(corpus.root, 'nested.json'), data: nestedLists(2000) },
    { dir: 'tpl-huge-each-silent', template: 'silent', ctx: path.join(corpus.root, 'silent.json'), data: silentList(5_000_000) },
  ];
  for (const { dir, template, ctx, data } of runs) {
    fs.writeFileSync(ctx, JSON.stringify(data));
    const r = cli(['render', template, '--context', ctx, '--dir', corpus.dirs.get(dir)!], corpus.root);
    t.diagnostic(`${dir}: exit ${r.status} in ${r.ms.toFixed(0)} ms (node start-up, load and a ${(fs.statSync(ctx).size / 1e6).toFixed(1)} MB context included)`);
    assert.equal(r.error, undefined, `${dir}: the CLI did not finish: ${r.error}`);
    assert.equal(r.status, 1, `${dir}: ${r.stderr}`);
    const m = /promptmanager render: \[render_budget_exceeded\] (.*)/.exec(r.stderr);
    assert.ok(m, `${dir}: ${r.stderr}`);
    assert.match(m[1]!, new RegExp(`^Template ${template} was stopped: the render did more than 500,000 units of work \\(maxRenderWork.*raise maxRenderWork`), dir);
    assert.doesNotMatch(r.stderr, STACK);
    assert.equal(r.stdout, '');
    assert.ok(r.ms - ok.ms < RENDER_STOP_MS, `${dir}: ${r.ms.toFixed(0)} ms, ${(r.ms - ok.ms).toFixed(0)} ms more than a normal render`);
  }
});
