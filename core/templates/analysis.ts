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
  /** Used inside a block's body or `{{else}}`: rendered only when the block chooses to. */
  optional?: true;
}

export interface TemplateVariableRead {
  /** The top-level variable read from the root context (`document` for `{{document.title}}`). */
  name: string;
  /** The whole path as written, for hover and messages (`document.title`). */
  path: string;
  range: Range;
  /**
   * A render in strict mode does not fail when the variable is missing: the read is a lone
   * name given to a helper (`{{#if locale}}`, `{{default tone "neutral"}}`), or it sits inside
   * a block's body or `{{else}}`, which runs only when the block chooses to.
   */
  optional?: true;
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
