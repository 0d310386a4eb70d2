// The ajv standalone validators of schemas/*.schema.json, generated when the bundles are built
// (build/precompiledSchemas.mjs); compiled with { allErrors, verbose, strict: false, allowUnionTypes }.
declare module 'precompiled-schemas' {
  import type { ValidateFunction } from 'ajv';
  export const composition_rules: ValidateFunction;
  export const service_mappings: ValidateFunction;
  export const prompt_tests: ValidateFunction;
}
