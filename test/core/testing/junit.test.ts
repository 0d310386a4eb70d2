/**
 * The JUnit XML of a test run, held to the common Jenkins/Surefire schema (the rules of the
 * Jenkins xUnit plugin's junit-10.xsd, written out below: which elements nest where, which
 * attributes each allows and requires, the time format) and to what CI systems show: counts
 * that add up, a failure's message and the failed assertions at their lines, a skipped test
 * as skipped with why, text that no character breaks.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { toJUnitXml } from '../../../core/testing/junit.js';
import { runPromptTests } from '../../../core/testing/runner.js';
import type { StepExecutor } from '../../../core/workflow/executors.js';
import { parseXml, type XmlElement } from '../../helpers/xml.js';
import { T, workspace } from './fixture.js';

interface ElementRule {
  attributes: string[];
  required?: string[];
  children: string[];
}
const FAULT: ElementRule = { attributes: ['type', 'message'], children: [] };
const RERUN: ElementRule = { attributes: ['message', 'type'], required: ['type'], children: ['stackTrace', 'system-out', 'system-err'] };
/** junit-10.xsd (Jenkins xUnit plugin), element by element. */
const JUNIT_10: Record<string, ElementRule> = {
  testsuites: { attributes: ['name', 'time', 'tests', 'failures', 'errors'], children: ['testsuite'] },
  testsuite: {
    attributes: ['name', 'tests', 'failures', 'errors', 'group', 'time', 'skipped', 'timestamp', 'hostname', 'id', 'package', 'file', 'log', 'url'],
    required: ['name', 'tests', 'failures', 'errors'],
    children: ['testsuite', 'properties', 'testcase', 'system-out', 'system-err'],
  },
  testcase: { attributes: ['name', 'time', 'classname', 'group'], required: ['name'], children: ['skipped', 'error', 'failure', 'rerunFailure', 'rerunError', 'flakyFailure', 'flakyError', 'system-out', 'system-err'] },
  failure: FAULT,
  error: FAULT,
  skipped: FAULT,
  properties: { attributes: [], children: ['property'] },
  property: { attributes: ['name', 'value'], required: ['name', 'value'], children: [] },
  'system-out': { attributes: [], children: [] },
  'system-err': { attributes: [], children: [] },
  stackTrace: { attributes: [], children: [] },
  rerunFailure: RERUN,
  rerunError: RERUN,
  flakyFailure: RERUN,
  flakyError: RERUN,
};
const SUREFIRE_TIME = /^(?:(?:[0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(?:\.[0-9]*)?$/;

/** Problems of a document against junit-10.xsd, as `path: problem`. */
function junitProblems(root: XmlElement): string[] {
  const out: string[] = [];
  if (root.name !== 'testsuites') out.push(`the root is <${root.name}>, not <testsuites>`);
  const visit = (el: XmlElement, where: string) => {
    const rule = JUNIT_10[el.name];
    if (!rule) return void out.push(`${where}: <${el.name}> is not an element of the schema`);
    for (const a of Object.keys(el.attributes)) if (!rule.attributes.includes(a)) out.push(`${where}: attribute ${a} is not allowed on <${el.name}>`);
    for (const a of rule.required ?? []) if (!(a in el.attributes)) out.push(`${where}: <${el.name}> lacks its required ${a}`);
    if ((el.name === 'testsuite' || el.name === 'testsuites') && el.attributes.time !== undefined && !SUREFIRE_TIME.test(el.attributes.time)) out.push(`${where}: time ${el.attributes.time} is not a SUREFIRE_TIME`);
    if (rule.children.length === 0 && el.children.length) out.push(`${where}: <${el.name}> holds elements`);
    if (rule.children.length && !['failure', 'error', 'skipped', 'system-out', 'system-err'].includes(el.name) && el.text.trim()) out.push(`${where}: <${el.name}> holds text`);
    el.children.forEach((c, i) => {
      if (!rule.children.includes(c.name)) out.push(`${where}: <${c.name}> may not be inside <${el.name}>`);
      visit(c, `${where}/${c.name}[${i}]`);
    });
  };
  visit(root, root.name);
  return out;
}

const all = (el: XmlElement, name: string): XmlElement[] => [...(el.name === name ? [el] : []), ...el.children.flatMap((c) => all(c, name))];

test('a run with passing, failing, skipped and repeated tests is valid JUnit XML whose counts add up', async () => {
  let n = 0;
  const flaky: StepExecutor = { name: 'acme-gateway', execute: async () => (++n % 2 ? 'good' : 'bad') };
  const root = workspace(
    T(`  passes:
    template: sorry
  fails_with_odd_text:
    template: greet
    context: { name: "<Ada & \\"Bob\\"> 'x' \\u0001 \\U0001F600", count: 2 }
    expect:
      - contains: "]]> never"
      - equals: nope
  live_only:
    composition: gateway
    context_file: contexts/ada.json
    live: true
`),
    { 'prompt_tests/more.yaml': T(`  repeated:\n    composition: gateway\n    context_file: contexts/ada.json\n    live: true\n    repeat: 3\n    pass_rate: 0.5\n    expect:\n      - step: reply\n        equals: good\n`) },
  );
  const offline = await runPromptTests({ root, history: false });
  const live = await runPromptTests({ root, history: false, live: true, executors: [flaky], responseCache: false, ids: ['repeated'] });
  for (const report of [offline, live]) {
    const xml = toJUnitXml(report);
    const doc = parseXml(xml);
    assert.deepEqual(junitProblems(doc), [], xml);
    const cases = all(doc, 'testcase');
    assert.equal(doc.attributes.tests, String(cases.length));
    assert.equal(doc.attributes.failures, String(cases.filter((c) => c.children.some((x) => x.name === 'failure')).length));
    for (const suite of all(doc, 'testsuite')) {
      const mine = suite.children.filter((c) => c.name === 'testcase');
      assert.equal(suite.attributes.tests, String(mine.length));
      assert.equal(suite.attributes.failures, String(mine.filter((c) => c.children.some((x) => x.name === 'failure')).length));
      assert.equal(suite.attributes.skipped, String(mine.filter((c) => c.children.some((x) => x.name === 'skipped')).length));
    }
  }
  const doc = parseXml(toJUnitXml(offline));
  assert.deepEqual(
    all(doc, 'testsuite').map((s) => [s.attributes.name, s.attributes.file]),
    [
      ['prompt_tests.yaml', 'prompt_tests.yaml'],
      ['prompt_tests/more.yaml', 'prompt_tests/more.yaml'],
    ],
  );
  const byName = new Map(all(doc, 'testcase').map((c) => [c.attributes.name, c]));
  assert.deepEqual(byName.get('passes')!.children, []);
  // A skipped test says why, and is not a pass.
  const skipped = byName.get('live_only')!.children;
  assert.deepEqual(skipped.map((c) => c.name), ['skipped']);
  assert.match(skipped[0]!.attributes.message!, /live: true.*--live/);
  // A failure: the first failed assertion in the message, every one at its line in the text.
  const failure = byName.get('fails_with_odd_text')!.children.find((c) => c.name === 'failure')!;
  assert.equal(failure.attributes.type, 'contains');
  assert.match(failure.attributes.message!, /^rendered text contains "\]\]> never": the rendered text does not contain/);
  assert.match(failure.text, /^prompt_tests\.yaml:9: rendered text contains "\]\]> never"$/m);
  assert.match(failure.text, /^prompt_tests\.yaml:10: rendered text equals "nope"$/m);
  assert.match(failure.text, /Hello <Ada & "Bob"> 'x' \uFFFD 😀!/, 'the text, escaped; a control character replaced');
  const repeated = all(parseXml(toJUnitXml(live)), 'testcase')[0]!;
  assert.deepEqual(repeated.children.map((c) => c.name), ['system-out']);
  assert.match(repeated.children[0]!.text, /^2 of 3 runs passed \(pass rate 67%, 50% required\)$/);
});

test('several workspaces make one document, each file a suite named from the base folder; a file that does not parse is an error', async () => {
  const a = workspace(T(`  one:\n    template: sorry\n`));
  const b = workspace(T(`  two:\n    template: nope\n`), { 'prompt_tests/bad.yaml': 'tests: [\n' });
  const reports = [await runPromptTests({ root: a, history: false }), await runPromptTests({ root: b, history: false })];
  const base = path.dirname(a);
  const doc = parseXml(toJUnitXml(reports, { base, name: 'prompts' }));
  assert.deepEqual(junitProblems(doc), []);
  assert.deepEqual([doc.attributes.name, doc.attributes.tests, doc.attributes.failures, doc.attributes.errors], ['prompts', '3', '1', '1']);
  assert.deepEqual(
    all(doc, 'testsuite').map((s) => s.attributes.name),
    [path.relative(base, path.join(a, 'prompt_tests.yaml')), path.relative(base, path.join(b, 'prompt_tests.yaml')), path.relative(base, path.join(b, 'prompt_tests', 'bad.yaml'))],
  );
  const error = all(doc, 'error')[0]!;
  assert.equal(error.attributes.type, 'yaml-syntax');
  assert.match(error.text, /bad\.yaml:2:1: yaml-syntax YAML syntax error: /);
});

test('the schema check itself finds a misplaced element, an unknown attribute and a bad time', () => {
  const doc = parseXml('<testsuites time="1,5"><testsuite name="x" tests="1" failures="0"><testcase name="t" file="a"><skipped/><property name="a" value="b"/></testcase></testsuite></testsuites>');
  assert.deepEqual(junitProblems(doc), [
    'testsuites: time 1,5 is not a SUREFIRE_TIME',
    'testsuites/testsuite[0]: <testsuite> lacks its required errors',
    'testsuites/testsuite[0]/testcase[0]: attribute file is not allowed on <testcase>',
    'testsuites/testsuite[0]/testcase[0]: <property> may not be inside <testcase>',
  ]);
  assert.throws(() => parseXml('<a><b></a>'), /closes/);
  assert.throws(() => parseXml('<a x="1 & 2"/>'), /bare '&'/);
});
