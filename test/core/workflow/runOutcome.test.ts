/**
 * What a run's status says beyond the contract's five words: the steps whose fallback answered
 * and why (`fallbacks`: a missing API key, a provider that refused the connection, a template
 * that failed), a run refused before any step (`refused`), and a caller's max_parallel that
 * only ever lowers the composition's.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { FakeClock } from '../../../core/clock.js';
import { PromptError } from '../../../core/errors.js';
import { PromptManager } from '../../../core/manager/promptManager.js';
import { composition, finish, loadRules, makeEngine, ScriptedExecutor } from './helpers.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A workspace with one provider step (with a literal fallback) after a render step. */
async function manager(baseUrl: string, env: (name: string) => string | undefined): Promise<PromptManager> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-outcome-'));
  dirs.push(dir);
  fs.writeFileSync(
    path.join(dir, 'composition_rules.yaml'),
    `version: 1
providers:
  llm:
    type: openai-compatible
    base_url: ${baseUrl}
    model: m
    api_key_env: PM_OUTCOME_KEY
compositions:
  drafter:
    steps:
      - id: brief
        template: brief
      - id: draft
        template: brief
        depends_on: [brief]
        model: llm
        retry: { max_attempts: 2, initial_interval_ms: 5 }
        fallback: { value: "no draft" }
`,
  );
  fs.mkdirSync(path.join(dir, 'templates'));
  fs.writeFileSync(path.join(dir, 'templates', 'brief.hbs'), 'Brief');
  return PromptManager.create({ root: dir, watch: false, workflow: { env } });
}

/** A port that was just free: nothing listens there. */
async function deadUrl(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return `http://127.0.0.1:${port}/v1`;
}

describe('fallbacks: why a step fell back', () => {
  test('a missing API key: the run succeeded (the contract), with a fallback of kind missing_key naming the variable', async () => {
    const m = await manager('http://127.0.0.1:9/v1', () => undefined);
    try {
      const r = await m.executeWorkflow('drafter');
      assert.equal(r.status, 'succeeded');
      assert.equal(r.refused, undefined);
      assert.deepEqual(r.fallbacks, [
        {
          step: 'draft',
          code: 'provider_error',
          cause: 'provider "llm" reads its API key from the environment variable PM_OUTCOME_KEY, which is not set',
          kind: 'missing_key',
          provider: 'llm',
          apiKeyEnv: 'PM_OUTCOME_KEY',
        },
      ]);
      // Not retried: a key does not appear between two attempts.
      assert.equal(r.steps.find((s) => s.id === 'draft')!.attempts, 1);
      // Health names the kind, not "none".
      assert.match(m.healthCheck().components.providers!.reason, /the last call failed \(the last: API key not set\); 1 of 1 call failed in all \(1x API key not set\)/);
      assert.equal(m.getWorkflowStatus(r.id)!.fallbacks?.[0]?.kind, 'missing_key', 'kept in the history');
    } finally {
      await m.close();
    }
  });

  test('a provider that refuses every connection: a fallback of kind connection_refused, after the retries', async () => {
    const m = await manager(await deadUrl(), () => 'sk-outcome');
    try {
      const r = await m.executeWorkflow('drafter');
      assert.equal(r.status, 'succeeded');
      assert.equal(r.fallbacks?.length, 1);
      const f = r.fallbacks![0]!;
      assert.equal(f.step, 'draft');
      assert.equal(f.kind, 'connection_refused');
      assert.equal(f.provider, 'llm');
      assert.equal(f.apiKeyEnv, undefined, 'the key is not the cause');
      assert.equal(r.steps.find((s) => s.id === 'draft')!.attempts, 2);
    } finally {
      await m.close();
    }
  });

  test('a run whose steps all answered has no fallbacks; a render-only step that fell back has no provider kind', async () => {
    const rules = loadRules(`version: 1
compositions:
  c:
    steps:
      - id: a
        template: t/a
      - id: b
        template: missing/b
        fallback: { template: t/lite }
      - id: c
        template: t/c
        depends_on: [a]
`);
    const { engine, clock } = makeEngine();
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.equal(r.status, 'succeeded');
    assert.deepEqual(r.fallbacks, [{ step: 'b', code: 'unknown_template', cause: 'no template missing/b' }]);
    const plain = loadRules('version: 1\ncompositions:\n  d:\n    steps:\n      - id: a\n        template: t/a\n');
    const clean = await finish(clock, engine.execute(composition(plain, 'd'), plain.defaults, {}));
    assert.equal(clean.status, 'succeeded');
    assert.equal('fallbacks' in clean, false);
  });
});

describe('refused runs', () => {
  const rules = loadRules(`version: 1
compositions:
  c:
    inputs: { required: [document] }
    steps:
      - id: a
        template: t/a
      - id: b
        template: t/b
        depends_on: [a]
`);

  test('a run missing a required input is refused: failed, refused, its reason in error, no step ran', async () => {
    const { engine, clock, executor, events } = makeEngine();
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, {}));
    assert.equal(r.status, 'failed');
    assert.equal(r.refused, true);
    assert.equal(r.error?.code, 'missing_context');
    assert.deepEqual(r.steps.map((s) => s.attempts), [0, 0]);
    assert.equal(executor.calls.length, 0);
    assert.deepEqual(events.map((e) => e.type), ['workflow.finished']);
  });

  test('a run that started and failed is not refused', async () => {
    const clock = new FakeClock();
    const executor = new ScriptedExecutor(clock, (id) => (id === 'a' ? { error: new PromptError('template_error', 'boom') } : {}));
    const { engine } = makeEngine({ clock, executor });
    const r = await finish(clock, engine.execute(composition(rules, 'c'), rules.defaults, { document: 'd' }));
    assert.equal(r.status, 'failed');
    assert.equal(r.refused, undefined);
  });

  test('an untrusted workspace refuses a provider step', async () => {
    const withModel = loadRules(`version: 1
providers:
  p: { type: openai-compatible, base_url: "http://127.0.0.1:9/v1" }
compositions:
  m:
    steps:
      - id: ask
        template: t/ask
        model: p
`);
    const { engine, clock } = makeEngine({ trusted: false, providers: withModel.providers });
    const r = await finish(clock, engine.execute(composition(withModel, 'm'), withModel.defaults, {}));
    assert.equal(r.refused, true);
    assert.equal(r.error?.code, 'access_denied');
  });
});

describe("a caller's max_parallel only lowers the composition's", () => {
  const rules = loadRules(`version: 1
compositions:
  wide:
    max_parallel: 2
    steps:
      - { id: a, template: t/a }
      - { id: b, template: t/b }
      - { id: c, template: t/c }
      - { id: d, template: t/d }
`);

  test('a higher value does not raise it; a lower one lowers it', async () => {
    const { engine, clock, executor } = makeEngine();
    const high = await finish(clock, engine.execute(composition(rules, 'wide'), rules.defaults, {}, { maxParallel: 8 }));
    assert.equal(high.maxParallel, 2);
    assert.equal(executor.maxActive, 2);
    executor.maxActive = 0;
    const low = await finish(clock, engine.execute(composition(rules, 'wide'), rules.defaults, {}, { maxParallel: 1 }));
    assert.equal(low.maxParallel, 1);
    assert.equal(executor.maxActive, 1);
  });

  test('it bounds an unbounded composition', async () => {
    const unbounded = loadRules('version: 1\ncompositions:\n  u:\n    steps:\n      - { id: a, template: t/a }\n      - { id: b, template: t/b }\n      - { id: c, template: t/c }\n');
    const { engine, clock, executor } = makeEngine();
    const r = await finish(clock, engine.execute(composition(unbounded, 'u'), unbounded.defaults, {}, { maxParallel: 2 }));
    assert.equal(r.maxParallel, 2);
    assert.equal(executor.maxActive, 2);
  });

  test('a value that is not a whole number from 1 up is refused', () => {
    const { engine } = makeEngine();
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => engine.execute(composition(rules, 'wide'), rules.defaults, {}, { maxParallel: bad }), /maxParallel must be a whole number from 1 up/);
    }
  });
});
