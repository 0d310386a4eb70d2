// Prompt tests benchmark (npm run bench:prompt-tests): 1,000 offline tests with
// `promptmanager test`, process start included, against promptfoo running the equivalent
// 1,000 cases with its `echo` provider, timed alternately in the same run.
//
// The workspace (bench/.generated/prompt-tests/): 500 template renders (20 templates with a
// loop and a partial, each test its own context, 4 assertions: contains, not_contains, regex,
// max_tokens) and 500 runs of a 3-step composition (render, a model step answered by a mock,
// render; 4 assertions: the model step's status, the output contains, a step's prompt
// contains, the run's status). promptfoo's cases: 1,000 prompts rendered by Nunjucks from the
// same values, sent to `echo`, with 4 assertions each (contains, not-contains, regex, a
// javascript length bound). promptfoo has no multi-step chain, so its half that stands for
// the compositions is one render and one echo each: less work than ours.
//
// promptfoo is installed only for this benchmark, never as a dependency: `npm install
// --no-save` into bench/.generated/promptfoo (it needs Node >= 22.22: the Node 24 binary from
// npm that test/nodeVersions.mjs keeps, which also runs `promptmanager test` here, so both
// run on the same Node).
//
// Usage: node bench/promptTests.mjs [--runs N] [--no-promptfoo]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureNode } from '../test/nodeVersions.mjs';
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from './configFiles.mjs';
import { median } from './stats.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const GEN = path.join(REPO, 'bench', '.generated');
const WS = path.join(GEN, 'prompt-tests');
const PF_DIR = path.join(GEN, 'promptfoo');
const PF_CASES = path.join(GEN, 'promptfoo-cases');
const PROMPTFOO_VERSION = '0.123.1';
const TESTS = 1000;

const argv = process.argv.slice(2);
const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 5;
const withPromptfoo = !argv.includes('--no-promptfoo');
const say = (m) => process.stderr.write(`${m}\n`);

// ------------------------------------------------------------------ the workspace

const TEMPLATES = 20;
const words = ['parcel', 'invoice', 'carrier', 'lease', 'strike', 'renewal', 'volume', 'delivery', 'warehouse', 'review'];
/** A value as a YAML flow collection, written as people write them (`{ doc: { title: x } }`). */
const flow = (v) => (Array.isArray(v) ? `[${v.map(flow).join(', ')}]` : v && typeof v === 'object' ? `{ ${Object.entries(v).map(([k, x]) => `${k}: ${flow(x)}`).join(', ')} }` : JSON.stringify(v));
const points = (i) => [0, 1, 2, 3].map((k) => `${words[(i + k) % words.length]} point ${k + 1} of case ${i}`);

function generateWorkspace() {
  fs.rmSync(WS, { recursive: true, force: true });
  const w = (rel, text) => {
    fs.mkdirSync(path.dirname(path.join(WS, rel)), { recursive: true });
    fs.writeFileSync(path.join(WS, rel), text);
  };
  w('templates/common/preamble.hbs', 'You are a careful assistant. Work only from the material given.\n');
  for (let t = 0; t < TEMPLATES; t++) {
    w(`templates/render/t${t}.hbs`, `{{> common/preamble}}\nTemplate ${t}: summarise "{{doc.title}}" for {{user}} in at most {{words}} words.\n{{#each points}}- {{this}}\n{{/each}}`);
  }
  w('templates/chain/brief.hbs', 'Brief: "{{doc.title}}" for {{user}}.\n{{#each points}}- {{this}}\n{{/each}}');
  w('templates/chain/draft.hbs', '{{> common/preamble}}\nDraft a reply from this brief:\n{{steps.brief.output}}');
  w('templates/chain/final.hbs', 'Final answer for {{user}}:\n{{steps.draft.output}}');
  w(
    COMPOSITION_RULES_FILE,
    [
      'version: 1',
      'providers:',
      '  local: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1", model: bench }',
      'compositions:',
      '  chain:',
      '    inputs: { required: [doc, user, points] }',
      '    steps:',
      '      - id: brief',
      '        template: chain/brief',
      '      - id: draft',
      '        template: chain/draft',
      '        depends_on: [brief]',
      '        model: local',
      '        retry: { max_attempts: 2, initial_interval_ms: 200 }',
      '      - id: final',
      '        template: chain/final',
      '        depends_on: [draft]',
      '    output: "{{{steps.final.output}}}"',
      '',
    ].join('\n'),
  );
  w(SERVICE_MAPPINGS_FILE, ['version: 1', 'services:', '  bench:', `    primary_templates: [${Array.from({ length: TEMPLATES }, (_, t) => `render/t${t}`).join(', ')}]`, '    compositions: [chain]', ''].join('\n'));
  const lines = ['version: 1', 'tests:'];
  for (let i = 0; i < TESTS / 2; i++) {
    const ctx = flow({ doc: { title: `Report ${i}` }, user: `user${i}`, words: 50 + (i % 7), points: points(i) });
    lines.push(
      `  render_${i}:`,
      `    template: render/t${i % TEMPLATES}`,
      `    context: ${ctx}`,
      '    expect:',
      `      - contains: 'summarise "Report ${i}"'`,
      "      - not_contains: '{{'",
      `      - regex: '^Template ${i % TEMPLATES}: '`,
      '        flags: m',
      '      - max_tokens: 200',
    );
  }
  for (let i = 0; i < TESTS / 2; i++) {
    const ctx = flow({ doc: { title: `Contract ${i}` }, user: `user${i}`, points: points(i) });
    lines.push(
      `  chain_${i}:`,
      '    composition: chain',
      `    context: ${ctx}`,
      '    mocks:',
      `      draft: "Dear user${i}, here is the draft for Contract ${i}."`,
      '    expect:',
      '      - step: draft',
      '        status: succeeded',
      `      - contains: 'Final answer for user${i}:'`,
      '      - step: draft',
      '        of: prompt',
      `        contains: 'Brief: "Contract ${i}"'`,
      '      - status: succeeded',
    );
  }
  w('prompt_tests.yaml', lines.join('\n') + '\n');
}

function generatePromptfooCases() {
  fs.rmSync(PF_CASES, { recursive: true, force: true });
  fs.mkdirSync(PF_CASES, { recursive: true });
  const out = [
    'description: 1,000 cases, echo provider (the equivalent of bench/.generated/prompt-tests)',
    'prompts: [file://prompt.txt]',
    'providers: [echo]',
    'tests:',
  ];
  for (let i = 0; i < TESTS; i++) {
    const t = i % TEMPLATES;
    const title = i < TESTS / 2 ? `Report ${i}` : `Contract ${i - TESTS / 2}`;
    out.push(
      // An array var would make promptfoo run one case per item: the list goes as one string.
      `  - vars: ${flow({ t, title, user: `user${i}`, words: 50 + (i % 7), points: points(i).join('|') })}`,
      '    assert:',
      `      - { type: contains, value: 'summarise "${title}"' }`,
      // promptfoo renders assertion values with Nunjucks: `{{` itself, taken raw.
      "      - { type: not-contains, value: '{% raw %}{{{% endraw %}' }",
      `      - { type: regex, value: 'Template ${t}: ' }`,
      "      - { type: javascript, value: 'output.length / 4 <= 200' }",
    );
  }
  fs.writeFileSync(path.join(PF_CASES, 'promptfooconfig.yaml'), out.join('\n') + '\n');
  // The Nunjucks twin of render/t<t>.hbs with its partial.
  fs.writeFileSync(path.join(PF_CASES, 'prompt.txt'), 'You are a careful assistant. Work only from the material given.\nTemplate {{ t }}: summarise "{{ title }}" for {{ user }} in at most {{ words }} words.\n{% for p in points.split("|") %}- {{ p }}\n{% endfor %}');
}

// ------------------------------------------------------------------ promptfoo

function promptfooMain() {
  return path.join(PF_DIR, 'node_modules', 'promptfoo', 'dist', 'src', 'main.js');
}

function installPromptfoo(node) {
  if (fs.existsSync(promptfooMain())) return;
  say(`installing promptfoo@${PROMPTFOO_VERSION} into ${PF_DIR} (not a dependency of the project)`);
  fs.mkdirSync(PF_DIR, { recursive: true });
  fs.writeFileSync(path.join(PF_DIR, 'package.json'), JSON.stringify({ name: 'promptfoo-bench', private: true }) + '\n');
  // npm's own script, run by the Node 24 binary: promptfoo's engines say node >= 22.22.
  const npmCli = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' }).stdout.trim();
  const r = spawnSync(node, [path.join(npmCli, 'npm', 'bin', 'npm-cli.js'), 'install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=warn', `promptfoo@${PROMPTFOO_VERSION}`], { cwd: PF_DIR, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm install promptfoo failed');
}

// ------------------------------------------------------------------ timing

/** GNU time, when the machine has it: CPU seconds (user + system) of a child, which load disturbs less than wall time. */
const GNU_TIME = fs.existsSync('/usr/bin/time') && spawnSync('/usr/bin/time', ['-f', '%U %S', 'true'], { encoding: 'utf8' }).status === 0 ? '/usr/bin/time' : undefined;

function timed(cmd, args, options) {
  const t0 = performance.now();
  const r = GNU_TIME
    ? spawnSync(GNU_TIME, ['-f', '\n@cpu %U %S', cmd, ...args], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options })
    : spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, ...options });
  const ms = performance.now() - t0;
  const cpu = /@cpu ([\d.]+) ([\d.]+)\s*$/.exec(r.stderr ?? '');
  return { ms, cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : undefined, ...r };
}

function runPromptManager(node) {
  const r = timed(node, [path.join(REPO, 'dist', 'cli.js'), 'test', WS], { cwd: REPO, env: { ...process.env, CI: '' } });
  const m = /^Tests: (.*), ([\d,]+) tests in/m.exec(r.stdout);
  if (r.status !== 0 || !m || !/^1000 passed$/.test(m[1])) throw new Error(`promptmanager test did not pass 1,000 tests (exit ${r.status}):\n${r.stdout.slice(-2000)}\n${r.stderr}`);
  return r;
}

function runPromptfoo(node, home) {
  const env = {
    ...process.env,
    PROMPTFOO_DISABLE_TELEMETRY: '1',
    PROMPTFOO_DISABLE_UPDATE: '1',
    PROMPTFOO_DISABLE_REMOTE_GENERATION: '1',
    PROMPTFOO_CONFIG_DIR: home,
    NO_COLOR: '1',
  };
  const r = timed(node, [promptfooMain(), 'eval', '-c', path.join(PF_CASES, 'promptfooconfig.yaml'), '--no-cache', '--no-table', '--no-progress-bar', '--no-write', '-j', '16'], { cwd: PF_CASES, env });
  const text = r.stdout + r.stderr;
  if (!/Running 1,?000 test cases/.test(text) || !/✓ 1,?000 passed \(100%\)/.test(text)) throw new Error(`promptfoo did not pass 1,000 cases (exit ${r.status}):\n${text.slice(-3000)}`);
  return r;
}

const node = ensureNode('24');
if (!fs.existsSync(path.join(REPO, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: npm run build first');
generateWorkspace();
if (withPromptfoo) {
  installPromptfoo(node);
  generatePromptfooCases();
}
const pfHome = fs.mkdtempSync(path.join(os.tmpdir(), 'promptfoo-home-'));
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
say(`machine: ${os.cpus()[0]?.model} x ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB; node ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}; load average before: ${load()}`);
// One warm-up each (file cache, the V8 compile cache of neither), then alternate.
runPromptManager(node);
if (withPromptfoo) runPromptfoo(node, pfHome);
const pm = [];
const pf = [];
const cpu = (r) => (r.cpuMs === undefined ? '' : `, CPU ${r.cpuMs.toFixed(0)} ms`);
for (let i = 0; i < runs; i++) {
  pm.push(runPromptManager(node));
  if (withPromptfoo) pf.push(runPromptfoo(node, pfHome));
  say(`run ${i + 1}: promptmanager test ${pm[i].ms.toFixed(0)} ms${cpu(pm[i])}${withPromptfoo ? `; promptfoo eval ${pf[i].ms.toFixed(0)} ms${cpu(pf[i])}` : ''} (load ${load()})`);
}
const stats = (list, key) => {
  const xs = list.map((r) => r[key]).filter((x) => x !== undefined);
  return xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) } : undefined;
};
const show = (s) => `median ${s.median.toFixed(0)} ms (min ${s.min.toFixed(0)}, max ${s.max.toFixed(0)})`;
const pmWall = stats(pm, 'ms');
const pmCpu = stats(pm, 'cpuMs');
const lines = [`promptmanager test, 1,000 offline tests, process start included, ${runs} runs: wall ${show(pmWall)}${pmCpu ? `; CPU ${show(pmCpu)}` : ''}; goal <= 3,000 ms wall`];
if (withPromptfoo) {
  const pfWall = stats(pf, 'ms');
  const pfCpu = stats(pf, 'cpuMs');
  lines.push(`promptfoo ${PROMPTFOO_VERSION} eval, 1,000 echo cases: wall ${show(pfWall)}${pfCpu ? `; CPU ${show(pfCpu)}` : ''}`);
  lines.push(`ratio promptmanager / promptfoo, medians of the same run: wall ${(pmWall.median / pfWall.median).toFixed(3)}x${pmCpu && pfCpu ? `, CPU ${(pmCpu.median / pfCpu.median).toFixed(3)}x` : ''}; goal <= 0.25x`);
}
lines.push(`load average after: ${load()}`);
process.stdout.write(lines.join('\n') + '\n');
fs.rmSync(pfHome, { recursive: true, force: true });
