// esbuild plugin: the module `precompiled-schemas` is the ajv standalone code of our JSON
// schemas, generated at build time. Compiling them with ajv at run time took about 0.25 s of a
// fresh language server's first validation (and ajv's compiler stays out of the bundles).
// The options here must stay those the validator was written against (core/validate/schemaCheck.ts).
import Ajv from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Paths from the repository, wherever the build is started from.
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export const AJV_OPTIONS = { allErrors: true, verbose: true, strict: false, allowUnionTypes: true };
const SCHEMAS = {
  composition_rules: resolve(REPO, 'schemas/composition_rules.schema.json'),
  service_mappings: resolve(REPO, 'schemas/service_mappings.schema.json'),
  prompt_tests: resolve(REPO, 'schemas/prompt_tests.schema.json'),
};

export function generateSchemaValidators() {
  const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true, esm: false, lines: false } });
  for (const [key, file] of Object.entries(SCHEMAS)) ajv.addSchema(JSON.parse(readFileSync(file, 'utf8')), key);
  return standaloneCode(ajv, Object.fromEntries(Object.keys(SCHEMAS).map((k) => [k, k])));
}

export const precompiledSchemas = {
  name: 'precompiled-schemas',
  setup(build) {
    build.onResolve({ filter: /^precompiled-schemas$/ }, () => ({ path: 'precompiled-schemas', namespace: 'precompiled-schemas' }));
    build.onLoad({ filter: /.*/, namespace: 'precompiled-schemas' }, () => ({
      contents: generateSchemaValidators(),
      loader: 'js',
      // The generated code requires ajv's small runtime helpers (deep equality, string length).
      resolveDir: REPO,
      watchFiles: Object.values(SCHEMAS),
    }));
  },
};
