/** Reading the client's settings and initialization options (server/settings.ts): anything a client sends. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_SETTINGS } from '../../protocol/protocol.js';
import { parseInitializationOptions, parseSettings } from '../../server/settings.js';

test('settings: the values a client sets, the defaults for anything missing or of the wrong type', () => {
  for (const raw of [undefined, null, {}, 'x', 42, []]) assert.deepEqual(parseSettings(raw), DEFAULT_SETTINGS, JSON.stringify(raw));
  assert.deepEqual(
    parseSettings({ environment: 'production', templatesRoot: 'prompts', diagnostics: { disabledCodes: ['unused-template', 7] }, maxProblemsPerFile: 0, trace: { server: 'verbose' } }),
    { environment: 'production', templatesRoot: 'prompts', diagnostics: { disabledCodes: ['unused-template', '7'] }, maxProblemsPerFile: 0, trace: { server: 'verbose' } },
  );
  assert.deepEqual(
    parseSettings({ environment: 'staging', templatesRoot: 3, diagnostics: { disabledCodes: 'unused-template' }, maxProblemsPerFile: -1, trace: { server: 'loud' } }),
    DEFAULT_SETTINGS,
  );
  assert.deepEqual(parseSettings({ maxProblemsPerFile: '5', trace: 'messages' }), DEFAULT_SETTINGS);
  assert.equal(parseSettings({ trace: { server: 'messages' } }).trace.server, 'messages');
  assert.equal(parseSettings({ environment: 'testing' }).environment, 'testing');
});

test('initialization options: trust only refused by an explicit false, a debounce held to 0..100 ms, settings read as settings', () => {
  assert.deepEqual(parseInitializationOptions(undefined), { trusted: true });
  assert.deepEqual(parseInitializationOptions(null), { trusted: true });
  assert.deepEqual(parseInitializationOptions({ trusted: 'no', debounceMs: '5' }), { trusted: true });
  assert.deepEqual(parseInitializationOptions({ trusted: false }), { trusted: false });
  assert.equal(parseInitializationOptions({ debounceMs: 250 }).debounceMs, 100);
  assert.equal(parseInitializationOptions({ debounceMs: -1 }).debounceMs, 0);
  assert.equal(parseInitializationOptions({ debounceMs: 20 }).debounceMs, 20);
  assert.deepEqual(parseInitializationOptions({ settings: { templatesRoot: 'p' } }).settings, { ...DEFAULT_SETTINGS, templatesRoot: 'p' });
  assert.deepEqual(parseInitializationOptions({ settings: null }).settings, DEFAULT_SETTINGS, 'sent, even empty: the defaults apply');
  assert.ok(!('settings' in parseInitializationOptions({})));
});
