/** What the validator and the editor need to know about one template's source. */
import type { Range } from '../text/range.js';

export interface TemplateParseError {
  /** A sentence a person can act on, without Handlebars' "Expecting ..." token dump. */
  message: string;
  /** Zero-based range of the fault in the template file. */
  range: Range;
}

export interface TemplatePartialUse {
  /** The partial's name as written (`common/preamble` for `{{> common/preamble}}`). */
  name: string;
  /** Range of the name in the template. */
  range: Range;
}

export interface TemplateVariableRead {
  /** The top-level variable read from the root context (`document` for `{{document.title}}`). */
  name: string;
  /** The whole path as written, for hover and messages (`document.title`). */
  path: string;
  range: Range;
}

export interface TemplateStepRead {
  /** `a` for `{{steps.a.output}}`. */
  stepId: string;
  range: Range;
}

export interface TemplateAnalysis {
  error?: TemplateParseError;
  partials: TemplatePartialUse[];
  /** Root-context reads: never helper names, `@data` paths, block params or paths relative to a block. */
  variables: TemplateVariableRead[];
  stepReads: TemplateStepRead[];
  /** Names of helpers the template calls. */
  helpers: string[];
}
