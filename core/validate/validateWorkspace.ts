/**
 * The one validator: file texts in, every diagnostic of the contract out. The engine calls it
 * at load, the language server as you type and the CLI in CI, so they can never disagree.
 *
 * This module runs the checks in order; each lives in a module of its own: the two
 * configuration files read, parsed and schema-checked (configFile.ts, schemaByEntry.ts), the
 * templates read and analysed (templateChecks.ts), the references between them
 * (references.ts, with stepGraph.ts and dataFlow.ts). A `ValidationCache` (validationCache.ts)
 * carries what can be reused between calls; without one every call starts fresh, which is
 * what the CLI does.
 */
import * as path from 'node:path';
import { compareDiagnostics, type PromptDiagnostic } from '../model/diagnostics.js';
import { buildCompositionRules, buildServiceMappings } from '../model/build.js';
import type { CompositionRulesModel, ServiceMappingsModel } from '../model/types.js';
import type { LineIndex } from '../text/lineIndex.js';
import { COMPOSITION_RULES_FILE, SERVICE_MAPPINGS_FILE } from '../workspace/discover.js';
import { nodeFileSystem, overlayFileSystem } from '../workspace/fileSystem.js';
import type { ValidateOptions, WorkspaceValidation } from './api.js';
import { parseConfigFile } from './configFile.js';
import { Collector, relatedAt } from './diagnosticCollector.js';
import { ReferenceChecker } from './references.js';
import { indexTemplates } from './templateChecks.js';
import { checkPromptTests } from './testChecks.js';
import { isPromptTestFile } from '../workspace/testFiles.js';
import { ValidationCache } from './validationCache.js';

export { findPromptWorkspaces } from '../workspace/discover.js';
export { ValidationCache } from './validationCache.js';

/** Validates the prompt workspace in `root` (the folder holding the YAML files). */
export function validateWorkspace(root: string, options: ValidateOptions & { cache?: ValidationCache } = {}): WorkspaceValidation {
  root = path.resolve(root);
  const cacheable = !!options.cache;
  const cache = options.cache ?? new ValidationCache();
  const fs = overlayFileSystem(options.fs ?? nodeFileSystem, options.overlays ?? new Map());
  const out = new Collector();
  const smFile = path.join(root, SERVICE_MAPPINGS_FILE);
  const crFile = path.join(root, COMPOSITION_RULES_FILE);

  // An overlay (an open buffer) is never kept as a disk read: the next call may not have it.
  const overlays = options.overlays ?? new Map<string, string>();
  const sm = parseConfigFile('service_mappings', root, smFile, fs, cache, cacheable && !overlays.has(smFile), out);
  const cr = parseConfigFile('composition_rules', root, crFile, fs, cache, cacheable && !overlays.has(crFile), out);
  const smModel: ServiceMappingsModel | undefined = sm?.ok ? buildServiceMappings(smFile, sm.root) : undefined;
  const crModel: CompositionRulesModel | undefined = cr?.ok ? buildCompositionRules(crFile, cr.root, cache.models) : undefined;

  // The templates root: `templates/` beside the files unless `templates_dir` says otherwise.
  let templatesRoot = path.join(root, 'templates');
  const smDir = smModel?.templatesDir;
  const crDir = crModel?.templatesDir;
  if (smDir) templatesRoot = path.resolve(root, smDir.value);
  if (crDir) templatesRoot = path.resolve(root, crDir.value);
  if (options.templatesRoot) templatesRoot = path.resolve(root, options.templatesRoot);
  if (smDir && crDir && path.resolve(root, smDir.value) !== path.resolve(root, crDir.value) && sm && cr) {
    const msg = `templates_dir differs between the two files ('${smDir.value}' here, '${crDir.value}' in ${COMPOSITION_RULES_FILE}); make them name the same folder or remove one`;
    out.node(sm.ctx, smDir.node, 'templates-dir-mismatch', msg, [relatedAt(cr.ctx, crDir.node, `${COMPOSITION_RULES_FILE} sets templates_dir here`)]);
    out.node(cr.ctx, crDir.node, 'templates-dir-mismatch', msg.replace("here, '", `in ${SERVICE_MAPPINGS_FILE}, '`).replace(`'${crDir.value}' in ${COMPOSITION_RULES_FILE}`, `'${crDir.value}' here`), [
      relatedAt(sm.ctx, smDir.node, `${SERVICE_MAPPINGS_FILE} sets templates_dir here`),
    ]);
  }

  const templates = indexTemplates(templatesRoot, fs, cache, cacheable, out, overlays);
  const used = new Set<string>();
  const check = new ReferenceChecker(templatesRoot, templates, fs, out, used, cache);

  for (const t of templates.values()) check.partials(t);
  if (crModel && cr) check.compositionRules(cr.ctx, crModel);
  if (smModel && sm) check.serviceMappings(sm.ctx, smModel, cr ? (crModel ?? null) : undefined);

  // Test files: an open buffer not yet saved counts too. Their template references are not uses.
  const listed = options.promptTests === false ? [] : cache.testFiles(root, fs, cacheable);
  const unsaved = options.promptTests === false ? [] : [...overlays.keys()].filter((f) => !listed.includes(f) && isPromptTestFile(f, root)).sort();
  const testFiles = unsaved.length ? [...listed, ...unsaved] : listed;
  const tests = checkPromptTests(
    {
      root,
      fs,
      cache,
      cacheable,
      overlays,
      out,
      refs: new ReferenceChecker(templatesRoot, templates, fs, out, new Set(), cache),
      serviceMappings: sm ? (smModel ?? null) : undefined,
      compositionRules: cr ? (crModel ?? null) : undefined,
    },
    testFiles,
  );

  // Unused templates only when every file could be read: otherwise "unused" may be wrong.
  if ((!sm || sm.ok) && (!cr || cr.ok) && (sm || cr)) {
    for (const t of templates.values()) {
      if (used.has(t.name) || t.unreadable !== undefined) continue;
      const ctx = check.templateCtx(t);
      out.add(ctx, 0, Math.min(ctx.lines.lineText(0).length, t.text.length), 'unused-template', `template '${t.name}' is not used by any service, composition or partial`);
    }
  }

  // A name that resolves outside the templates root is `template-outside-root`, not also a
  // `schema` error for its pattern (a backslash, a drive letter): one diagnostic per fault.
  const where = (d: PromptDiagnostic) => `${d.file}\0${d.range.start.line}:${d.range.start.character}:${d.range.end.line}:${d.range.end.character}`;
  const outside = new Set(out.diagnostics.filter((d) => d.code === 'template-outside-root').map(where));
  const kept = outside.size ? out.diagnostics.filter((d) => d.code !== 'schema' || !outside.has(where(d))) : out.diagnostics;
  const diagnostics = kept.sort(compareDiagnostics);
  const inTests = new Set(testFiles);
  const result: WorkspaceValidation = {
    root,
    templatesRoot,
    serviceMappingsFile: smFile,
    compositionRulesFile: crFile,
    diagnostics,
    errorCount: diagnostics.filter((d) => d.severity === 'error').length,
    configErrorCount: diagnostics.filter((d) => d.severity === 'error' && !inTests.has(d.file)).length,
    warningCount: diagnostics.filter((d) => d.severity === 'warning').length,
    templates,
    promptTestFiles: testFiles,
    promptTests: tests.files,
    contextFiles: tests.contextFiles,
  };
  if (smModel) result.serviceMappings = smModel;
  if (crModel) result.compositionRules = crModel;
  const configLines = new Map<string, LineIndex>();
  for (const f of [sm, cr]) if (f && f.ctx.text) configLines.set(f.ctx.file, f.ctx.lines);
  result.configLines = configLines;
  return result;
}
