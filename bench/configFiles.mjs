// The names of a prompt workspace's two configuration files, for the benchmarks (plain
// JavaScript, run without a build): test/repository/configFileNames.test.ts holds them equal
// to the core's (core/workspace/discover.ts).
export const SERVICE_MAPPINGS_FILE = 'service_mappings.yaml';
export const COMPOSITION_RULES_FILE = 'composition_rules.yaml';
