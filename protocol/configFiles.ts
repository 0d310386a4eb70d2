/**
 * The names of a prompt workspace's two configuration files, for the client (which imports
 * nothing from the core): core/workspace/discover.ts holds the core's, and
 * test/repository/configFileNames.test.ts holds these, the benchmarks' and package.json's
 * equal to them.
 */
export const SERVICE_MAPPINGS_FILE = 'service_mappings.yaml';
export const COMPOSITION_RULES_FILE = 'composition_rules.yaml';
