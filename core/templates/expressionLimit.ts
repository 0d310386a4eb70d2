/**
 * The maxTemplateExpressions check, shared by the validator and the template worker
 * (core/validate/templatePrewarm.ts, which must not load the validator).
 */
import { LIMITS } from '../limits.js';
import { nthTagOpen } from './tagScan.js';

/** Where a template's expression past maxTemplateExpressions starts, or -1 when it has no more than that. */
export function expressionLimitAt(text: string): number {
  return nthTagOpen(text, LIMITS.maxTemplateExpressions + 1);
}
