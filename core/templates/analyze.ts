/**
 * Static analysis of one Handlebars template: the variables it reads from the root context, the
 * `steps.X` it reads, the partials and helpers it uses, or the parse error a person can act on.
 *
 * Nothing is compiled or executed: the template is parsed with Handlebars' own parser (so errors
 * agree with what a render would report) and walked with a `Handlebars.Visitor` subclass that
 * follows Handlebars' context rules:
 *
 * - `#each X` / `#with X` and Mustache sections (`{{#foo}}` where `foo` is no helper) run their
 *   body in a new context, so paths there are relative to it; `../y` climbs one such context;
 *   `@root.y` is always the root. `#if`, `#unless` and helper calls keep the context.
 * - An `{{else}}` runs in the context outside the block.
 * - Block params (`as |item i|`), `@data` variables and `this` are never root variables.
 *
 * `analyzeTemplate` never throws, and guards against the two costs that grow faster than the
 * input in Handlebars' parser: very deep nesting (its parse time is quadratic in the depth) and
 * recursion (a stack overflow is reported as "template nesting is too deep").
 *
 * This module is the pipeline: the nesting guard (a rough count by the tag scanner,
 * tagScan.ts, then the exact one by Handlebars' lexer, blockScan.ts), the parse, the walk
 * (templateWalk.ts); a parse error becomes a message a person can act on (parseErrorMessages.ts).
 */
import Handlebars from 'handlebars';
import type { TemplateAnalysis, TemplateParseError } from './analysis.js';
import { scanTemplate, lexerSnapshot } from './blockScan.js';
import { ZERO_RANGE } from './hbsLocation.js';
import { KNOWN_HELPER_NAMES } from './helpers.js';
import { describeParseError, errorMessage, isStackOverflow, TOO_DEEP, tooDeepMessage } from './parseErrorMessages.js';
import { roughNestingDepth } from './tagScan.js';
import { walkTemplate } from './templateWalk.js';
import { LIMITS } from '../limits.js';

export interface AnalyzeOptions {
  /** Further helper names registered by the application (besides builtins and prompt helpers). */
  helpers?: ReadonlySet<string>;
}


export function analyzeTemplate(source: string, options?: AnalyzeOptions): TemplateAnalysis {
  try {
    const text = typeof source === 'string' ? source : source === null || source === undefined ? '' : String(source);
    return analyze(text, options?.helpers);
  } catch (e) {
    const message = isStackOverflow(e) ? TOO_DEEP : `the template could not be analysed: ${errorMessage(e)}`;
    return failed({ message, range: ZERO_RANGE });
  }
}

function failed(error: TemplateParseError): TemplateAnalysis {
  return { error, partials: [], variables: [], stepReads: [], helpers: [] };
}

function analyze(source: string, extraHelpers: ReadonlySet<string> | undefined): TemplateAnalysis {
  // 1. Refuse absurd nesting before Handlebars' parser spends seconds on it.
  const maxNesting = LIMITS.maxTemplateNesting;
  if (roughNestingDepth(source) > maxNesting) {
    const scan = scanTemplate(source, true, maxNesting);
    if (scan.maxDepth > maxNesting) return failed({ message: tooDeepMessage(maxNesting), range: scan.deepAt ?? ZERO_RANGE });
  }

  // 2. Parse. parseWithoutProcessing skips the whitespace-control pass, which only edits text
  //    content, never locations, and recurses once more over the whole tree.
  let ast: hbs.AST.Program;
  try {
    ast = Handlebars.parseWithoutProcessing(source);
  } catch (e) {
    const snapshot = lexerSnapshot(source);
    return failed(describeParseError(e, snapshot, source));
  }

  // 3. Walk.
  const known = extraHelpers && extraHelpers.size > 0 ? new Set([...KNOWN_HELPER_NAMES, ...extraHelpers]) : KNOWN_HELPER_NAMES;
  try {
    return walkTemplate(ast, source, known);
  } catch (e) {
    if (isStackOverflow(e)) return failed({ message: TOO_DEEP, range: ZERO_RANGE });
    throw e;
  }
}
