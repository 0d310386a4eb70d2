// Generates the large workspace the validator and language-server benchmarks use:
// 2,000 compositions x 10 steps, 500 services and 500 templates (about 2.2 MB of YAML).
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from './configFiles.mjs';

export function generateWorkspace(dir, { compositions = 2000, stepsPer = 10, services = 500, templates = 500 } = {}) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'templates', 'gen'), { recursive: true });
  for (let t = 0; t < templates; t++) {
    writeFileSync(join(dir, 'templates', 'gen', `t${t}.hbs`),
      `You are assistant number ${t}.\n{{#if document}}Document: {{document}}{{/if}}\n{{#each items}}- {{this}}\n{{/each}}\n`);
  }
  const lines = ['version: 1', 'defaults:', '  max_parallel: 4', '  fail_fast: true', 'compositions:'];
  for (let c = 0; c < compositions; c++) {
    lines.push(`  comp_${c}:`);
    lines.push(`    description: Generated composition number ${c} for the benchmark`);
    lines.push('    inputs: { required: [document], optional: [items, locale] }');
    lines.push('    max_parallel: 3');
    lines.push('    steps:');
    for (let s = 0; s < stepsPer; s++) {
      lines.push(`      - id: step_${s}`);
      lines.push(`        template: gen/t${(c * stepsPer + s) % templates}`);
      if (s > 0) lines.push(`        depends_on: [step_${s - 1}${s > 2 ? `, step_${s - 3}` : ''}]`);
      if (s % 4 === 1) lines.push('        retry: { max_attempts: 3, initial_interval_ms: 100 }');
    }
  }
  const rules = lines.join('\n') + '\n';
  writeFileSync(join(dir, COMPOSITION_RULES_FILE), rules);
  const sm = ['version: 1', 'services:'];
  for (let s = 0; s < services; s++) {
    sm.push(`  service_${s}:`);
    sm.push(`    description: Generated service ${s}`);
    sm.push(`    primary_templates: [gen/t${s % templates}]`);
    sm.push(`    compositions: [comp_${s % compositions}, comp_${(s * 7 + 1) % compositions}]`);
    sm.push('    context_requirements: { required: [document], optional: [items] }');
  }
  writeFileSync(join(dir, SERVICE_MAPPINGS_FILE), sm.join('\n') + '\n');
  return { rulesBytes: rules.length };
}

if (process.argv[1]?.endsWith("generate.mjs")) {
  const dir = process.argv[2] ?? 'bench/.generated/large';
  const r = generateWorkspace(dir);
  console.log(`generated ${dir}: ${COMPOSITION_RULES_FILE} ${(r.rulesBytes / 1e6).toFixed(2)} MB`);
}
