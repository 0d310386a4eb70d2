/**
 * The templates of a prompt workspace, read and analysed, with the faults of each file on its
 * own: not readable, over the size or expression limit, not UTF-8, a syntax error. Analyses are
 * kept in the ValidationCache while a template's text is unchanged.
 */
import * as path from 'node:path';
import { LIMITS } from '../limits.js';
import type { Range } from '../text/range.js';
import { LineIndex } from '../text/lineIndex.js';
import { invalidUtf8At } from '../text/utf8.js';
import { analyzeTemplate } from '../templates/analyze.js';
import type { TemplateAnalysis } from '../templates/analysis.js';
import { expressionLimitAt } from '../templates/expressionLimit.js';
import type { FileSystemHost } from '../workspace/fileSystem.js';
import { asFileReadError } from '../workspace/fileRead.js';
import type { TemplateEntry } from './api.js';
import { emptyCtx, type Collector, type FileCtx } from './diagnosticCollector.js';
import { megabytes, overLimit, unreadableReason } from './fileReading.js';
import { nextTemplateVersion, type ValidationCache } from './validationCache.js';

const ZERO: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

function limitAnalysis(message: string, range: Range): TemplateAnalysis {
  return { partials: [], variables: [], stepReads: [], helpers: [], error: { message, range } };
}

/** Every template under the templates root, by name, each read and analysed (or why not). */
export function indexTemplates(templatesRoot: string, fs: FileSystemHost, cache: ValidationCache, cacheable: boolean, out: Collector, overlays: ReadonlyMap<string, string>): Map<string, TemplateEntry> {
  const templates = new Map<string, TemplateEntry>();
  const tooLarge = (size: number | undefined) =>
    limitAnalysis(`the template ${size !== undefined ? `is ${megabytes(size)} MB, larger than` : 'is larger than'} the ${megabytes(LIMITS.maxTemplateBytes)} MB limit (maxTemplateBytes); split it into partials`, ZERO);
  for (const { name, file, problem } of cache.listing(templatesRoot, fs, cacheable)) {
    let text = '';
    let limited: TemplateAnalysis | undefined;
    let unreadable: string | undefined = problem;
    if (unreadable === undefined) {
      try {
        const read = cache.read(fs, file, cacheable && !overlays.has(file), LIMITS.maxTemplateBytes);
        // Listed a moment ago, gone now: not an empty template.
        if (read === undefined) unreadable = 'disappeared while being read (ENOENT); it is read again on the next change';
        else {
          const bytes = overLimit(read, LIMITS.maxTemplateBytes);
          if (bytes !== undefined) limited = tooLarge(bytes);
          else text = read;
        }
      } catch (thrown) {
        const e = asFileReadError(file, thrown);
        if (!e) throw thrown;
        if (e.problem === 'too-large') limited = tooLarge(e.size);
        else unreadable = unreadableReason(e);
      }
    }
    if (unreadable !== undefined) {
      out.add(emptyCtx(file), 0, 0, 'unreadable-file', `${path.relative(path.dirname(templatesRoot), file)} ${unreadable}`);
      templates.set(name, { name, file, text: '', analysis: limitAnalysis(`the template file ${unreadable}`, ZERO), version: nextTemplateVersion(), unreadable });
      continue;
    }
    let cached = cache.templates.get(file);
    if (!cached || cached.text !== text || limited) {
      // Compiling costs per expression, and Handlebars runs out of memory on a few hundred
      // thousand: a template with too many is refused before it is even parsed.
      const at = limited ? -1 : expressionLimitAt(text);
      if (at >= 0) {
        const lines = new LineIndex(text);
        limited = limitAnalysis(`the template has more than ${LIMITS.maxTemplateExpressions.toLocaleString('en-US')} '{{...}}' expressions (maxTemplateExpressions); split it into partials`, lines.range(at, at + 2));
      }
      cached = { text, analysis: limited ?? analyzeTemplate(text), version: cached && cached.text === text ? cached.version : nextTemplateVersion(), badByte: invalidUtf8At(text) };
      cache.templates.set(file, cached);
    }
    if (cached.badByte >= 0) {
      // A prompt would silently carry the replacement characters.
      const ctx: FileCtx = { file, text, lines: new LineIndex(text) };
      out.add(ctx, cached.badByte, cached.badByte + 1, 'template-syntax', 'the template is not valid UTF-8 here; save it as UTF-8');
    }
    templates.set(name, { name, file, text, analysis: cached.analysis, version: cached.version });
    if (cached.analysis.error) {
      const ctx: FileCtx = { file, text, lines: new LineIndex(text) };
      const r = cached.analysis.error.range;
      out.add(ctx, ctx.lines.offsetAt(r.start), ctx.lines.offsetAt(r.end), 'template-syntax', cached.analysis.error.message);
    }
  }
  return templates;
}
