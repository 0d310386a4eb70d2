/**
 * The bundles carry ajv standalone code for the schemas (build/precompiledSchemas.mjs)
 * instead of compiling them at run time. These tests hold that code to what ajv itself
 * compiles from schemas/*.schema.json today, so a schema edit or an options drift that the
 * build did not pick up fails here rather than as a wrong diagnostic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import * as precompiled from 'precompiled-schemas';
import { parseYaml } from '../../../core/yaml/parse.js';
import { toJS } from '../../../core/yaml/sourceTree.js';
import { EXAMPLES, REPO } from '../../helpers/paths.js';
import { rng } from '../../helpers/rng.js';

type Kind = 'composition_rules' | 'service_mappings' | 'prompt_tests';
const KINDS: Kind[] = ['composition_rules', 'service_mappings', 'prompt_tests'];

const runtime = new Ajv({ allErrors: true, verbose: true, strict: false, allowUnionTypes: true });
const compiled = Object.fromEntries(
  KINDS.map((k) => [k, runtime.compile(JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', `${k}.schema.json`), 'utf8')))]),
) as Record<Kind, ReturnType<Ajv['compile']>>;

/** What a validator reports on a value, in a comparable shape (schema objects by content). */
function report(v: (data: unknown) => boolean, errors: () => unknown, value: unknown): string {
  const ok = v(value);
  return JSON.stringify({ ok, errors: ok ? [] : errors() });
}

function filesOf(kind: Kind): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === `${kind}.yaml`) out.push(p);
    }
  };
  walk(EXAMPLES);
  return out;
}

for (const kind of KINDS) {
  test(`precompiled ${kind} validator agrees with ajv on every example and broken example`, () => {
    const files = filesOf(kind);
    assert.ok(files.length >= 2, `examples hold ${kind}.yaml files (found ${files.length})`);
    for (const f of files) {
      const parsed = parseYaml(fs.readFileSync(f, 'utf8'));
      if (!parsed.root) continue;
      const value = toJS(parsed.root);
      const p = precompiled[kind];
      assert.equal(report(p, () => p.errors, value), report(compiled[kind], () => compiled[kind].errors, value), f);
    }
  });

  test(`precompiled ${kind} validator agrees with ajv on seeded mutations`, () => {
    const random = rng(4242);
    const base = toJS(parseYaml(fs.readFileSync(path.join(EXAMPLES, `${kind}.yaml`), 'utf8')).root!) as Record<string, unknown>;
    const junk: unknown[] = [null, 0, -1, 1.5, 'x', '', true, [], {}, ['a'], { bogus: 1 }, 'not-a-duration', 1e9];
    let errorsSeen = 0;
    for (let i = 0; i < 300; i++) {
      const value = structuredClone(base);
      // Replace a random leaf or subtree with junk.
      let node: any = value;
      for (let depth = 0; depth < 6 && node && typeof node === 'object'; depth++) {
        const keys = Object.keys(node);
        if (!keys.length) break;
        const k = keys[Math.floor(random() * keys.length)]!;
        if (random() < 0.3 || typeof node[k] !== 'object' || node[k] === null) {
          node[k] = junk[Math.floor(random() * junk.length)];
          break;
        }
        node = node[k];
      }
      const p = precompiled[kind];
      const a = report(p, () => p.errors, value);
      assert.equal(a, report(compiled[kind], () => compiled[kind].errors, value));
      if (!JSON.parse(a).ok) errorsSeen++;
    }
    assert.ok(errorsSeen > 50, `the mutations produce schema errors (${errorsSeen} of 300)`);
  });
}
