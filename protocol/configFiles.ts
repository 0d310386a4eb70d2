/**
 * The names of a prompt workspace's two configuration files and of its prompt test files, for
 * the client (which imports nothing from the core): core/workspace/discover.ts holds the
 * core's, and test/repository/configFileNames.test.ts holds these, the benchmarks' and
 * package.json's equal to them.
 */
export const SERVICE_MAPPINGS_FILE = 'service_mappings.yaml';
export const COMPOSITION_RULES_FILE = 'composition_rules.yaml';
/** `prompt_tests.yaml` beside them, and any `*.yaml` below `prompt_tests/`. */
export const PROMPT_TESTS_FILE = 'prompt_tests.yaml';
export const PROMPT_TESTS_DIR = 'prompt_tests';
