/**
 * The prompt test files of a workspace, checked by the one validator: each file read, parsed
 * and schema-checked like the configuration files (configFile.ts), then every test against
 * the workspace: the template, composition, service and context file it names, the steps its
 * mocks and assertions name, the model steps it leaves without a mock, and each assertion's
 * fit to its target. A test never counts as a use of a template (`unused-template` is about
 * what the application uses).
 */
import * as path from 'node:path';
import { buildPromptTests } from '../model/buildTests.js';
import {
  ASSERTION_KINDS,
  RENDER_STATUSES,
  RUN_STATUSES,
  snapshotFileName,
  STEP_STATUSES,
  TEXT_ASSERTION_KINDS,
  type AssertionDef,
  type PromptTestDef,
  type PromptTestFileModel,
} from '../model/testTypes.js';
import type { CompositionDef, CompositionRulesModel, ServiceMappingsModel } from '../model/types.js';
import { LIMITS } from '../limits.js';
import { asFileReadError } from '../workspace/fileRead.js';
import type { FileSystemHost } from '../workspace/fileSystem.js';
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from '../workspace/discover.js';
import { compositionNamed, serviceNamed, templatesServiceMayRender } from '../workspace/queries.js';
import { MAX_TEST_FILES } from '../workspace/testFiles.js';
import { parseConfigFile } from './configFile.js';
import { emptyCtx, relatedAt, type Collector, type FileCtx } from './diagnosticCollector.js';
import { closest } from './didYouMean.js';
import { unreadableReason } from './fileReading.js';
import type { ReferenceChecker } from './references.js';
import type { ValidationCache } from './validationCache.js';

/** What the test checks read of the rest of the validation. */
export interface TestCheckInput {
  root: string;
  fs: FileSystemHost;
  cache: ValidationCache;
  cacheable: boolean;
  overlays: ReadonlyMap<string, string>;
  out: Collector;
  /** A checker whose template uses are not counted (see the module's comment). */
  refs: ReferenceChecker;
  /** Undefined: the file does not exist; null: it exists and does not parse (nothing is said then). */
  serviceMappings: ServiceMappingsModel | null | undefined;
  compositionRules: CompositionRulesModel | null | undefined;
}

export interface TestCheckResult {
  files: PromptTestFileModel[];
  /** The context files that parsed, by absolute path: the runner uses these very values. */
  contextFiles: Map<string, Record<string, unknown>>;
}

const KIND_LIST = ASSERTION_KINDS.join(', ');

export function checkPromptTests(input: TestCheckInput, files: readonly string[]): TestCheckResult {
  const { out } = input;
  const result: TestCheckResult = { files: [], contextFiles: new Map() };
  const firstByName = new Map<string, { ctx: FileCtx; test: PromptTestDef }>();
  for (const file of files.slice(0, MAX_TEST_FILES)) {
    const parsed = parseConfigFile('prompt_tests', input.root, file, input.fs, input.cache, input.cacheable && !input.overlays.has(file), out);
    if (!parsed?.ok) continue;
    const model = buildPromptTests(file, parsed.root, parsed.ctx.lines);
    result.files.push(model);
    for (const t of model.tests) {
      const first = firstByName.get(t.name);
      if (first) {
        const where = first.ctx.file === file ? 'this file' : path.relative(input.root, first.ctx.file);
        out.node(parsed.ctx, t.nameNode, 'invalid-test', `test name '${t.name}' is already used in ${where}: names are unique in the prompt workspace (they identify tests in reports, history and snapshots); rename one`, [
          relatedAt(first.ctx, first.test.nameNode, `first test '${t.name}'`),
        ]);
        continue;
      }
      firstByName.set(t.name, { ctx: parsed.ctx, test: t });
      new TestChecker(input, parsed.ctx, t, result.contextFiles).check();
    }
  }
  if (files.length > MAX_TEST_FILES) {
    const last = files[MAX_TEST_FILES]!;
    out.add(emptyCtx(last), 0, 0, 'invalid-test', `more than ${MAX_TEST_FILES} test files in this prompt workspace: the ones after this are not read; merge some`);
  }
  return result;
}

class TestChecker {
  constructor(
    private readonly input: TestCheckInput,
    private readonly ctx: FileCtx,
    private readonly t: PromptTestDef,
    private readonly contextFiles: Map<string, Record<string, unknown>>,
  ) {}

  private report(node: Parameters<Collector['node']>[1], code: Parameters<Collector['node']>[2], message: string): void {
    this.input.out.node(this.ctx, node, code, message);
  }

  check(): void {
    const t = this.t;
    if (!t.template && !t.composition) {
      this.report(t.nameNode, 'invalid-test', `test '${t.name}' names neither a template nor a composition: add \`template: <name>\` or \`composition: <name>\``);
    } else if (t.template && t.composition) {
      this.report(t.composition.node, 'invalid-test', `test '${t.name}' names both a template and a composition: a test renders one template or runs one composition; split it in two`);
    }
    if (t.template) this.input.refs.templateRef(this.ctx, t.template);
    const composition = t.composition && !t.template ? this.composition() : undefined;
    this.service(composition);
    this.contextFile();
    if (t.template && t.mocks.length) {
      this.report(t.mocks[0]!.pair.key, 'invalid-test', `test '${t.name}' renders a template, which calls no model: \`mocks\` apply to a composition's model steps; remove them`);
    }
    if (composition) this.mocks(composition);
    const snapshots = new Map<string, AssertionDef>();
    for (const a of t.expect) this.assertion(a, composition, snapshots);
  }

  private composition(): CompositionDef | undefined {
    const ref = this.t.composition!;
    const rules = this.input.compositionRules;
    if (rules === null) return undefined;
    const def = compositionNamed(rules, ref.name);
    if (def) return def;
    const guess = rules ? closest(ref.name, rules.compositions.map((c) => c.name)) : undefined;
    const where = rules ? `${COMPOSITION_RULES_FILE} does not define it` : `there is no ${COMPOSITION_RULES_FILE} in this prompt workspace`;
    this.report(ref.node, 'unknown-composition', `composition '${ref.name}' is not defined: ${where}${guess ? ` (did you mean '${guess}'?)` : ''}`);
    return undefined;
  }

  /** Whether an assertion expects the render or run to fail (then an access check is what it tests). */
  private expectsFailure(): boolean {
    return this.t.expect.some((a) => !a.step && (a.kind === 'error' || (a.kind === 'status' && a.value !== 'succeeded')));
  }

  private service(composition: CompositionDef | undefined): void {
    const t = this.t;
    const ref = t.service;
    if (!ref) return;
    const mappings = this.input.serviceMappings;
    if (mappings === null) return;
    const svc = serviceNamed(mappings, ref.name);
    if (!svc) {
      const guess = mappings ? closest(ref.name, mappings.services.map((s) => s.name)) : undefined;
      const where = mappings ? `${SERVICE_MAPPINGS_FILE} does not define it` : `there is no ${SERVICE_MAPPINGS_FILE} in this prompt workspace`;
      this.report(ref.node, 'unknown-service', `service '${ref.name}' is not defined: ${where}${guess ? ` (did you mean '${guess}'?)` : ''}`);
      return;
    }
    if (this.expectsFailure()) return;
    if (t.template && !t.composition) {
      const rules = this.input.compositionRules ?? undefined;
      const allowed = templatesServiceMayRender(svc, (n) => compositionNamed(rules, n));
      if (!allowed.has(t.template.name)) {
        this.report(ref.node, 'invalid-test', `service '${ref.name}' may not render template '${t.template.name}' (the render would fail with access_denied): add it to the service's \`templates\` in ${SERVICE_MAPPINGS_FILE}, remove \`service\`, or expect \`error: access_denied\``);
      }
    } else if (composition && !svc.compositions.some((c) => c.name === composition.name)) {
      this.report(ref.node, 'invalid-test', `service '${ref.name}' may not run composition '${composition.name}' (the run would fail with access_denied): add it to the service's \`compositions\` in ${SERVICE_MAPPINGS_FILE}, remove \`service\`, or expect \`error: access_denied\``);
    }
  }

  private contextFile(): void {
    const cf = this.t.contextFile;
    if (!cf) return;
    const { root, fs, cache } = this.input;
    const file = path.resolve(root, cf.value);
    const rel = path.relative(root, file);
    const bad = (why: string) => this.report(cf.node, 'invalid-context-file', `context file '${cf.value}' ${why}`);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return bad(`is outside the prompt workspace (${file}): keep contexts inside it, for example in contexts/`);
    const real = fs.realpath(file);
    const realRoot = fs.realpath(root) ?? root;
    if (real === undefined) {
      const guess = closest(cf.value, this.knownContexts());
      return bad(`does not exist: looked for ${file}${guess ? `; did you mean '${guess}'?` : ''}`);
    }
    const realRel = path.relative(realRoot, real);
    if (realRel.startsWith('..') || path.isAbsolute(realRel)) return bad(`is a link to ${real}, outside the prompt workspace: it is not read`);
    let text: string | undefined;
    try {
      text = cache.read(fs, file, this.input.cacheable && !this.input.overlays.has(file), LIMITS.maxContextBytes);
    } catch (thrown) {
      const e = asFileReadError(file, thrown);
      if (!e) throw thrown;
      return bad(e.problem === 'too-large' ? `holds more than ${LIMITS.maxContextBytes} bytes (maxContextBytes)` : unreadableReason(e));
    }
    if (text === undefined) return bad(`does not exist: looked for ${file}`);
    if (text.length > LIMITS.maxContextBytes) return bad(`holds more than ${LIMITS.maxContextBytes} characters (maxContextBytes)`);
    const parsed = cache.parseJson(file, text);
    if ('error' in parsed) return bad(`is not valid JSON${jsonErrorPlace(text, parsed.error)}: ${parsed.error.replace(/ in JSON at position \d+.*$/, '')}`);
    const v = parsed.value;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return bad(`must hold a JSON object ({"key": value, ...}), got ${Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v}`);
    this.contextFiles.set(file, v as Record<string, unknown>);
  }

  /** `contexts/*.json` of the workspace, for a did-you-mean. */
  private knownContexts(): string[] {
    const dir = path.join(this.input.root, 'contexts');
    return (this.input.fs.readDirectory(dir) ?? []).filter((e) => e.name.endsWith('.json')).map((e) => `contexts/${e.name}`);
  }

  private mocks(c: CompositionDef): void {
    const t = this.t;
    const models = modelSteps(c);
    const ids = c.steps.map((s) => s.id);
    const mocked = new Set<string>();
    for (const m of t.mocks) {
      mocked.add(m.step.name);
      if (!ids.includes(m.step.name)) {
        const guess = closest(m.step.name, ids.filter((id) => models.has(id) && !t.mocks.some((x) => x.step.name === id)));
        this.report(m.step.node, 'unknown-step', `\`mocks\` of test '${t.name}' names step '${m.step.name}', which composition '${c.name}' does not define${guess ? ` (did you mean '${guess}'?)` : ''}`);
      } else if (!models.has(m.step.name)) {
        this.report(m.step.node, 'unused-mock', `step '${m.step.name}' of composition '${c.name}' calls no model provider (it has no \`model:\`, and no override gives it one): its output is its rendered prompt and this mock is never asked; remove it`);
      }
    }
    if (t.live) return;
    const missing = [...models.keys()].filter((id) => !mocked.has(id));
    if (!missing.length) return;
    const list = missing.map((id) => `'${id}' (provider '${models.get(id)}')`).join(', ');
    this.report(t.composition!.node, 'invalid-test', `composition '${c.name}' sends prompts to a model provider in step${missing.length > 1 ? 's' : ''} ${list}, and test '${t.name}' gives no mock for ${missing.length > 1 ? 'them' : 'it'}: add \`mocks: { ${missing[0]}: "the model's reply" }\`, or mark the test \`live: true\` to call the provider (with --live)`);
  }

  private assertion(a: AssertionDef, c: CompositionDef | undefined, snapshots: Map<string, AssertionDef>): void {
    const t = this.t;
    if (!a.kind) {
      this.report(a.node, 'invalid-test', `this assertion checks nothing: give it one of ${KIND_LIST}`);
      return;
    }
    if (a.kinds.length > 1) {
      this.report(a.node, 'invalid-test', `an assertion checks one thing, and this one has ${a.kinds.map((k) => `\`${k}\``).join(' and ')}: split it into one list item per kind`);
    }
    const isText = TEXT_ASSERTION_KINDS.has(a.kind);
    if (a.step) {
      if (t.template && !t.composition) {
        this.report(a.step.node, 'invalid-test', `test '${t.name}' renders a template, which has no steps: remove \`step\``);
      } else if (c && !c.steps.some((s) => s.id === a.step!.name)) {
        const guess = closest(a.step.name, c.steps.map((s) => s.id));
        this.report(a.step.node, 'unknown-step', `an assertion of test '${t.name}' names step '${a.step.name}', which composition '${c.name}' does not define${guess ? ` (did you mean '${guess}'?)` : ''}`);
      }
    }
    if (a.ofNode && !isText) this.report(a.ofNode, 'invalid-test', `\`of\` says which text a text assertion reads; \`${a.kind}\` reads how the target ended: remove \`of\``);
    else if (a.of === 'prompt' && t.composition && !t.template && !a.step && a.ofNode) {
      this.report(a.ofNode, 'invalid-test', `a run has no prompt of its own, its steps do: add \`step: <id>\` to read that step's rendered prompt`);
    }
    const at = a.valueNode ?? a.node;
    switch (a.kind) {
      case 'status': {
        const target = a.step ? 'step' : t.template ? 'render' : 'run';
        const allowed: readonly string[] = target === 'step' ? STEP_STATUSES : target === 'run' ? RUN_STATUSES : RENDER_STATUSES;
        if (typeof a.value === 'string' && !allowed.includes(a.value)) {
          const guess = closest(a.value, allowed);
          this.report(at, 'invalid-test', `a ${target} never ends '${a.value}': a ${target}'s status is one of ${allowed.join(', ')}${guess ? ` (did you mean '${guess}'?)` : ''}`);
        }
        break;
      }
      case 'attempts':
        if (!a.step) this.report(at, 'invalid-test', `\`attempts\` counts a step's attempts: add \`step: <id>\``);
        break;
      case 'regex':
        if (typeof a.value === 'string') {
          try {
            new RegExp(a.value, (a.flags ?? '') + (a.ignoreCase && !(a.flags ?? '').includes('i') ? 'i' : ''));
          } catch (e) {
            this.report(at, 'invalid-test', `this regular expression does not compile: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`);
          }
        }
        break;
      case 'snapshot': {
        const name = snapshotFileName(a);
        const first = snapshots.get(name);
        if (first) this.report(at, 'invalid-test', `assertion ${first.index + 1} of test '${t.name}' already keeps its snapshot in ${name}: give this one a name (\`snapshot: my_name\`)`);
        else snapshots.set(name, a);
        break;
      }
    }
  }
}

/** ` (line L, column C)` of a JSON.parse message's position, which older Node versions give only as an offset. */
function jsonErrorPlace(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m) return '';
  const offset = Math.min(Number(m[1]), text.length);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return ` (line ${line}, column ${offset - before.lastIndexOf('\n')})`;
}

/** The steps of a composition that may call a model provider (by `model:`, or an override's), with the provider. */
export function modelSteps(c: CompositionDef): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of c.steps) if (s.id && s.model) out.set(s.id, s.model.name);
  for (const o of [...c.overrides.states, ...c.overrides.experienceLevels]) {
    for (const so of o.steps) if (so.model && !out.has(so.stepName.name)) out.set(so.stepName.name, so.model.name);
  }
  return out;
}
