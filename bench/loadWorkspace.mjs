// The load scenario's prompt workspace, shared by test/load/load.test.ts (sized for npm test)
// and bench/load.mjs (the long runs), so both load the same thing.
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from './configFiles.mjs';

/** A 10-step DAG: one root, a fan-out of 7, a join and a final step; step `risky` fails when asked to. */
const RULES = `version: 1
compositions:
  ten:
    inputs: { required: [doc, i], optional: [fail] }
    fail_fast: false
    max_parallel: 4
    steps:
      - id: s0
        template: step
      - { id: s1, template: step, depends_on: [s0] }
      - { id: s2, template: step, depends_on: [s0] }
      - { id: s3, template: step, depends_on: [s0] }
      - { id: s4, template: step, depends_on: [s0] }
      - { id: s5, template: step, depends_on: [s0] }
      - { id: s6, template: step, depends_on: [s0] }
      - { id: risky, template: risky, depends_on: [s0] }
      - { id: join, template: join, depends_on: [s1, s2, s3, s4, s5, s6] }
      - { id: last, template: step, depends_on: [join, risky] }
`;
const SERVICES = `version: 1
services:
  app:
    primary_templates: [hello, step]
    compositions: [ten]
    context_requirements: { required: [doc] }
`;
/** The workspace's files, for memoryFileSystem, rooted at /load. */
export const LOAD_FILES = {
  [`/load/${COMPOSITION_RULES_FILE}`]: RULES,
  [`/load/${SERVICE_MAPPINGS_FILE}`]: SERVICES,
  '/load/templates/step.hbs': 'Step for {{doc}} #{{i}}',
  '/load/templates/risky.hbs': '{{#if fail}}{{missing.value}}{{/if}}risky ok',
  '/load/templates/join.hbs': 'Joined {{steps.s1.output}} / {{steps.s6.output}}',
  '/load/templates/hello.hbs': 'Hello {{name}}, about {{doc}} ({{#each tags}}{{this}}{{#unless @last}}, {{/unless}}{{/each}})',
};
