/**
 * Template analysis done ahead of a validation, off the caller's thread. A fresh language
 * server spends a fifth of its first validation parsing templates with Handlebars; a worker
 * thread can do that on the second core while the main thread parses the YAML, and hand the
 * results to the validator's cache (`ValidationCache.adoptTemplates`). The cache keys them by
 * text, so a guess that turns out wrong (another templates root, a file changed meanwhile)
 * costs only the time it took: the validator analyzes what it does not find.
 */
import * as path from 'node:path';
import { configureLimits, LIMITS, type Limits } from '../limits.js';
import { analyzeTemplate } from '../templates/analyze.js';
import type { TemplateAnalysis } from '../templates/analysis.js';
import { nodeFileSystem, type FileSystemHost } from '../workspace/fileSystem.js';
import { asFileReadError } from '../workspace/fileRead.js';
import { listTemplates } from '../workspace/templateIndex.js';
import { expressionLimitAt } from '../templates/expressionLimit.js';

/** One template as the validator would have read and analyzed it. */
export interface PrewarmedTemplate {
  file: string;
  text: string;
  analysis: TemplateAnalysis;
}

/** What a worker is asked: the templates root to read, under the caller's limits. */
export interface TemplatePrewarmRequest {
  templatesRoot: string;
  limits: Limits;
}

/**
 * Reads and analyzes every template below `templatesRoot`. Templates the validator treats
 * specially (over a size or expression limit) are left to it.
 */
export function analyzeTemplatesUnder(templatesRoot: string, fs: FileSystemHost = nodeFileSystem): PrewarmedTemplate[] {
  const out: PrewarmedTemplate[] = [];
  for (const { file, problem } of listTemplates(templatesRoot, fs)) {
    if (problem !== undefined) continue;
    let text: string | undefined;
    try {
      text = fs.readFile(file, LIMITS.maxTemplateBytes);
    } catch (e) {
      if (asFileReadError(file, e)) continue;
      throw e;
    }
    if (text === undefined || expressionLimitAt(text) >= 0) continue;
    out.push({ file, text, analysis: analyzeTemplate(text) });
  }
  return out;
}

/** The worker's side: applies the caller's limits, then analyzes. */
export function answerPrewarmRequest(request: TemplatePrewarmRequest): PrewarmedTemplate[] {
  configureLimits(request.limits);
  return analyzeTemplatesUnder(request.templatesRoot);
}

/**
 * Where the validator will most likely look for templates: the override, else the last
 * top-level `templates_dir:` of the two files (composition_rules.yaml wins, as in the
 * validator), else `templates/`. A cheap line match: a wrong guess only loses the head start.
 */
export function guessTemplatesRoot(root: string, serviceMappingsText: string | undefined, compositionRulesText: string | undefined, override?: string): string {
  if (override) return path.resolve(root, override);
  let dir: string | undefined;
  for (const text of [serviceMappingsText, compositionRulesText]) {
    const m = text === undefined ? null : /^templates_dir:[ \t]*(["']?)([^"'#\r\n]*?)\1[ \t]*(?:#.*)?$/m.exec(text);
    if (m && m[2]) dir = m[2];
  }
  return path.resolve(root, dir ?? 'templates');
}
