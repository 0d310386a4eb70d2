/**
 * Bring your own model client. A provider `type` names any executor the
 * application registers (validated: a name pattern; `base_url` and `model` only for the
 * built-in `openai-compatible`); the engine refuses a run whose type has no executor, naming
 * it; `createTesting` takes executors and never reaches the network unless asked; the mock
 * executor answers from a table or a function and simulates provider failures; the README's
 * "Your own model client" snippet runs as written.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeClock } from '../../../core/clock.js';
import { createTesting } from '../../../core/manager/factory.js';
import type { PromptManager } from '../../../core/manager/promptManager.js';
import { PromptError } from '../../../core/errors.js';
import { validateWorkspace } from '../../../core/validate/validateWorkspace.js';
import { memoryFileSystem } from '../../../core/workspace/fileSystem.js';
import type { StepExecutionRequest, StepExecutor } from '../../../core/workflow/executors.js';
import { createMockExecutor, mock } from '../../../core/workflow/mockExecutor.js';
import type { WorkflowResult } from '../../../core/workflow/types.js';
import { REPO } from '../../helpers/paths.js';

let server: Server;
let base = '';
let requests = 0;
before(async () => {
  server = createServer((req, res) => {
    requests++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: [{ message: { content: 'from the network' } }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const TEMPLATES = { ask: 'Question: {{q}}', summary: 'Summarise: {{q}}', critique: 'Critique: {{steps.summary.output}}' };

function rules(providers: Record<string, unknown>, steps: unknown[] = [{ id: 'ask', template: 'ask', model: 'p' }]) {
  return { providers, compositions: { flow: { inputs: { required: ['q'] }, fail_fast: false, steps } } };
}

/** Drives a fake clock until the run ends. */
async function drive(clock: FakeClock, p: Promise<WorkflowResult>): Promise<WorkflowResult> {
  let done = false;
  const out = p.finally(() => (done = true));
  for (let i = 0; i < 10_000 && !done; i++) {
    if (clock.pending) await clock.runAll(1);
    else await clock.advance(0);
  }
  assert.ok(done, 'the run did not end');
  return out;
}

const step = (r: WorkflowResult, id: string) => r.steps.find((s) => s.id === id)!;

describe('the provider type names any executor', () => {
  const ROOT = path.resolve('/virtual/own-client');
  const diagnostics = (yaml: string) =>
    validateWorkspace(ROOT, { fs: memoryFileSystem({ [path.join(ROOT, 'composition_rules.yaml')]: yaml, [path.join(ROOT, 'templates/ask.hbs')]: 'Q' }) })
      .diagnostics.filter((d) => d.severity === 'error')
      .map((d) => `${d.code}: ${d.message}`);
  const steps = 'compositions:\n  flow:\n    steps: [{ id: ask, template: ask, model: p }]\n';

  test('the schema: any name for your executor, needing only `type`; base_url and model for openai-compatible', () => {
    assert.deepEqual(diagnostics(`version: 1\nproviders:\n  p: { type: acme-gateway }\n${steps}`), []);
    assert.deepEqual(diagnostics(`version: 1\nproviders:\n  p: { type: anthropic, model: claude-sonnet-4-5, api_key_env: ANTHROPIC_API_KEY, timeout_ms: 120000 }\n${steps}`), []);
    assert.deepEqual(diagnostics(`version: 1\nproviders:\n  p: { type: openai-compatible, model: m }\n${steps}`), ["schema: provider 'p' is missing required key 'base_url'"]);
    assert.match(diagnostics(`version: 1\nproviders:\n  p: { type: "my gateway!" }\n${steps}`).join('\n'), /schema: .*"my gateway!" is not valid: use letters, digits, '_', '\.' and '-', starting with a letter/);
    // A base_url, when given, is http(s) whatever the type.
    assert.match(diagnostics(`version: 1\nproviders:\n  p: { type: acme, base_url: "file:///etc" }\n${steps}`).join('\n'), /http:\/\/ or https:\/\/ URL/);
  });

  test('your executor serves the providers of its type, with the provider, prompt, signal and clock', async () => {
    const seen: StepExecutionRequest[] = [];
    const acme: StepExecutor = { name: 'acme-gateway', execute: (req) => (seen.push(req), Promise.resolve(`[${req.provider!.model}] ${req.prompt}`)) };
    const m = await createTesting({ templates: TEMPLATES, compositionRules: rules({ p: { type: 'acme-gateway', model: 'large' } }), workflow: { executors: [acme] } });
    try {
      const r = await m.executeWorkflow('flow', { q: 'why?' });
      assert.equal(r.status, 'succeeded', JSON.stringify(r));
      assert.equal(r.output, '[large] Question: why?');
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.provider!.name, 'p');
      assert.equal(seen[0]!.signal.aborted, false);
      assert.equal(typeof seen[0]!.clock.now(), 'number');
      assert.equal(requests, 0);
    } finally {
      await m.close();
    }
  });

  test('executors are checked when they are registered', async () => {
    await assert.rejects(createTesting({ workflow: { executors: [{ name: 'bad name', execute: async () => '' }] } }), /an executor is an object \{ name, execute\(request\) \} whose name is a provider type .*got \{ name: "bad name", execute: function \}/);
    await assert.rejects(createTesting({ workflow: { executors: [{ name: 'acme' } as unknown as StepExecutor] } }), /execute: undefined/);
    await assert.rejects(createTesting({ workflow: { executors: { name: 'acme', execute: async () => '' } as unknown as StepExecutor[] } }), /workflow\.executors must be a list of executors/);
  });

  test('a run whose provider type has no executor is refused before any step, naming the type and what to do', async () => {
    const m = await createTesting({ templates: TEMPLATES, compositionRules: rules({ p: { type: 'acme-gateway' } }, [{ id: 'local', template: 'ask' }, { id: 'ask', template: 'ask', model: 'p' }]) });
    try {
      const r = await m.executeWorkflow('flow', { q: 'why?' });
      assert.equal(r.status, 'failed');
      assert.equal(r.error?.code, 'invalid_configuration');
      assert.match(String(r.error?.message), /provider "p" \(step "ask"\) has the type "acme-gateway", and no executor of that name is registered \(registered: render, openai-compatible\); register your client under that name: workflow: \{ executors: \[\{ name: 'acme-gateway', execute \}\] \}/);
      assert.ok(r.steps.every((s) => s.attempts === 0));
    } finally {
      await m.close();
    }
  });
});

describe('createTesting never reaches the network unless asked', () => {
  test('an openai-compatible provider fails at once, saying how to mock it; allowNetwork: true calls it', async () => {
    const cr = rules({ p: { type: 'openai-compatible', base_url: base, model: 'm' } });
    const before = requests;
    const m = await createTesting({ templates: TEMPLATES, compositionRules: cr });
    try {
      const r = await m.executeWorkflow('flow', { q: 'why?' });
      assert.equal(requests, before, 'no request left');
      assert.equal(step(r, 'ask').status, 'failed');
      assert.equal(step(r, 'ask').errors[0]!.code, 'provider_error');
      assert.match(String(step(r, 'ask').errors[0]!.message), /does not reach the network: register a mock \(workflow: \{ executors: \[createMockExecutor/);
    } finally {
      await m.close();
    }
    const online = await createTesting({ templates: TEMPLATES, compositionRules: cr, allowNetwork: true });
    try {
      const r = await online.executeWorkflow('flow', { q: 'why?' });
      assert.equal(r.output, 'from the network');
      assert.equal(requests, before + 1);
    } finally {
      await online.close();
    }
  });
});

describe('the mock executor', () => {
  async function manager(model: ReturnType<typeof createMockExecutor>, steps: unknown[], provider: Record<string, unknown> = { type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', model: 'm' }) {
    const clock = new FakeClock();
    const m = await createTesting({ templates: TEMPLATES, compositionRules: rules({ p: provider }, steps), clock, workflow: { executors: [model] } });
    return { m, clock, run: (q = 'why?') => drive(clock, m.executeWorkflow('flow', { q })) };
  }
  let open: PromptManager[] = [];
  after(async () => {
    for (const m of open) await m.close();
    open = [];
  });

  test('answers by step, by composition/step, by prompt (text or RegExp), by function, and otherwise', async () => {
    const model = createMockExecutor({
      steps: { summary: 'by step', 'flow/critique': 'by composition/step', critique: 'not this one' },
      prompts: [
        { match: /question: WHO/i, answer: 'by RegExp' },
        { match: 'Question: where', answer: 'by text' },
      ],
      respond: (call) => (call.prompt.includes('when') ? mock.reply({ at: 'by function' }) : mock.error('template_error', 'no idea', { retryable: false })),
    });
    const { m, run } = await manager(model, [
      { id: 'summary', template: 'summary', model: 'p' },
      { id: 'critique', template: 'critique', model: 'p', depends_on: ['summary'] },
      { id: 'ask', template: 'ask', model: 'p' },
    ]);
    open.push(m);
    const answers = async (q: string) => {
      const r = await run(q);
      return r.steps.map((s) => s.output ?? s.errors[0]?.message);
    };
    assert.deepEqual(await answers('who?'), ['by step', 'by composition/step', 'by RegExp']);
    assert.deepEqual(await answers('where?'), ['by step', 'by composition/step', 'by text']);
    assert.deepEqual(await answers('when?'), ['by step', 'by composition/step', { at: 'by function' }]);
    assert.deepEqual(await answers('what?'), ['by step', 'by composition/step', 'no idea']);
    assert.deepEqual(model.callsFor('critique').map((c) => [c.prompt, c.provider, c.model, c.attempt]), Array(4).fill(['Critique: by step', 'p', 'm', 1]));
    // Nothing configured answers: an error that says what to add, not retried.
    const bare = createMockExecutor();
    const b = await manager(bare, [{ id: 'ask', template: 'ask', model: 'p', retry: { max_attempts: 3 } }]);
    open.push(b.m);
    const r = await b.run('lost?');
    assert.equal(step(r, 'ask').attempts, 1);
    assert.match(String(step(r, 'ask').errors[0]!.message), /the mock executor has no answer for step "ask" of "flow" \(prompt: "Question: lost\?"\): add it to steps, prompts or respond/);
  });

  test('scripts: a 429 with Retry-After, then an answer, on the engine\'s clock; delays; reset', async () => {
    const model = createMockExecutor({ steps: { ask: [mock.rateLimited(2), mock.reply('finally', { delayMs: 300 })] } });
    const { m, run } = await manager(model, [{ id: 'ask', template: 'ask', model: 'p', retry: { max_attempts: 3, initial_interval_ms: 50 } }]);
    open.push(m);
    const r = await run();
    assert.equal(r.status, 'succeeded');
    assert.equal(r.output, 'finally');
    assert.deepEqual(model.calls.map((c) => [c.attempt, c.time]), [
      [1, 0],
      [2, 2000],
    ]);
    assert.equal(step(r, 'ask').durationMs, 2300);
    assert.equal(step(r, 'ask').errors[0]!.status, 429);
    assert.equal(step(r, 'ask').errors[0]!.retryAfterMs, 2000);
    assert.match(String(step(r, 'ask').errors[0]!.message), /provider "p" answered 429 Too Many Requests/);
    // The last answer repeats; reset starts the script again.
    assert.equal((await run()).output, 'finally');
    model.reset();
    assert.equal(model.calls.length, 0);
    assert.equal(step(await run(), 'ask').attempts, 2);
  });

  test('simulated failures behave as real provider failures: 5xx retried, 4xx not, down, malformed, hang until the provider timeout', async () => {
    const model = createMockExecutor({
      steps: {
        five: [mock.fail(503), 'recovered'],
        four: mock.fail(400, { message: 'bad request' }),
        down: [mock.down(), 'back'],
        bad: mock.malformed(),
        silent: mock.hang(),
      },
    });
    const retry = { max_attempts: 2, initial_interval_ms: 100 };
    const ids = ['five', 'four', 'down', 'bad', 'silent'];
    const { m, run } = await manager(
      model,
      ids.map((id) => ({ id, template: 'ask', model: 'p', retry })),
      { type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', model: 'm', timeout_ms: 5000 },
    );
    open.push(m);
    const r = await run();
    const summary = Object.fromEntries(ids.map((id) => [id, [step(r, id).status, step(r, id).attempts, step(r, id).errors.map((e) => `${e.code}${e.status !== undefined ? ' ' + e.status : ''}`).join(',')]]));
    assert.deepEqual(summary, {
      five: ['succeeded', 2, 'provider_error 503'],
      four: ['failed', 1, 'provider_error 400'],
      down: ['succeeded', 2, 'provider_error'],
      bad: ['failed', 2, 'provider_error 200,provider_error 200'],
      silent: ['failed', 2, 'timeout,timeout'],
    });
    assert.match(String(step(r, 'bad').errors[0]!.message), /answered 200 with malformed JSON: \{"choices"/);
    assert.match(String(step(r, 'silent').errors[0]!.message), /did not answer step "silent" \(attempt 1\) within its timeout_ms of 5000 ms/);
    assert.equal(step(r, 'silent').durationMs, 5000 + 100 + 5000);
  });

  test('serves your own provider type, and a function alone is enough', async () => {
    const model = createMockExecutor({ name: 'acme-gateway', respond: (call) => `echo ${call.prompt}` });
    const { m, run } = await manager(model, [{ id: 'ask', template: 'ask', model: 'p' }], { type: 'acme-gateway' });
    open.push(m);
    assert.equal((await run()).output, 'echo Question: why?');
    const fn = createMockExecutor((call) => (call.attempt === 1 ? mock.fail(500) : `attempt ${call.attempt}`));
    assert.equal(fn.name, 'openai-compatible');
    const e = await fn.execute({ runId: 'r', composition: 'c', stepId: 's', attempt: 1, prompt: 'p', context: {}, signal: new AbortController().signal, clock: new FakeClock(), env: () => undefined }).catch((x: unknown) => x);
    assert.ok(e instanceof PromptError && e.status === 500);
  });
});

describe('README: "Your own model client"', () => {
  test('its snippet runs as written', { skip: !fs.existsSync(path.join(REPO, 'dist', 'core.js')) && 'dist/core.js is not built' }, () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const start = readme.indexOf('\n## Your own model client');
    assert.ok(start >= 0, 'the README has the section');
    const end = readme.indexOf('\n## ', start + 1);
    const section = readme.slice(start, end < 0 ? undefined : end);
    const code = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
    assert.ok(code.includes("from 'promptmanager/core'"), 'a snippet that imports the library');
    // Inside the package, so that `promptmanager/core` resolves to this build.
    const file = path.join(REPO, 'out', 'readme-own-client.mjs');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, code);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    // What the snippet's comments say it prints.
    const expected = [...code.matchAll(/\/\/ -> (.*)$/gm)].map((m) => m[1]!.trim());
    assert.ok(expected.length >= 2);
    assert.deepEqual(r.stdout.trim().split('\n'), expected);
  });
});
