/**
 * The maxTemplateExpressions check, shared by the validator and the template worker
 * (core/validate/templatePrewarm.ts, which must not load the validator).
 */
import { LIMITS } from '../limits.js';

/** Where a template's expression past maxTemplateExpressions starts, or -1 when it has no more than that. */
export function expressionLimitAt(text: string): number {
  return nthIndexOf(text, '{{', LIMITS.maxTemplateExpressions + 1);
}

/** Offset of the n-th (1-based) occurrence of `needle`, or -1. */
function nthIndexOf(text: string, needle: string, n: number): number {
  let at = -1;
  for (let k = 0, from = 0; k < n; k++) {
    at = text.indexOf(needle, from);
    if (at < 0) return -1;
    from = at + needle.length;
  }
  return at;
}
