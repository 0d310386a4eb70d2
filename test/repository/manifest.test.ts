/**
 * What package.json repeats of the code, held equal to it: the diagnostic codes
 * the `promptManager.diagnostics.disabledCodes` setting offers are the core's, in its order;
 * each setting's default is the one the client reads it with and the server falls back to
 * (protocol/protocol.ts's SETTING_DEFAULTS); the environments offered are the core's presets.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ENVIRONMENTS } from '../../core/manager/presets.js';
import { DIAGNOSTIC_CODES } from '../../core/model/diagnostics.js';
import { DEFAULT_SETTINGS, SETTING_DEFAULTS, type PromptManagerSettings } from '../../protocol/protocol.js';
import { REPO } from '../helpers/paths.js';

interface Setting {
  type: string;
  default: unknown;
  enum?: unknown[];
  items?: { enum?: unknown[] };
}
const PREFIX = 'promptManager.';
const settings = (): Record<string, Setting> =>
  (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { contributes: { configuration: { properties: Record<string, Setting> } } }).contributes.configuration.properties;

test('the disabledCodes setting offers every diagnostic code of the core, in its order', () => {
  const setting = settings()[`${PREFIX}diagnostics.disabledCodes`];
  assert.equal(setting?.type, 'array');
  assert.deepEqual(setting.items?.enum, [...DIAGNOSTIC_CODES]);
});

test("each setting's default in package.json is the protocol's, for every setting and no other", () => {
  const all = settings();
  assert.deepEqual(Object.keys(all).sort(), Object.keys(SETTING_DEFAULTS).map((k) => PREFIX + k).sort());
  for (const [key, value] of Object.entries(SETTING_DEFAULTS)) {
    assert.deepEqual(all[PREFIX + key]!.default, value, `${PREFIX}${key}`);
  }
});

test('the server falls back to the same defaults (DEFAULT_SETTINGS)', () => {
  const expected: PromptManagerSettings = {
    templatesRoot: SETTING_DEFAULTS.templatesRoot,
    diagnostics: { disabledCodes: [...SETTING_DEFAULTS['diagnostics.disabledCodes']] },
    maxProblemsPerFile: SETTING_DEFAULTS.maxProblemsPerFile,
    trace: { server: SETTING_DEFAULTS['trace.server'] },
  };
  assert.deepEqual(DEFAULT_SETTINGS, expected);
});

test("the environment setting offers the core's presets, its default among them", () => {
  const setting = settings()[`${PREFIX}environment`]!;
  assert.deepEqual(setting.enum, [...ENVIRONMENTS]);
  assert.ok((ENVIRONMENTS as readonly unknown[]).includes(setting.default));
});
