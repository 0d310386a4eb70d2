/**
 * What a step job of a distributed run hands back besides an outcome: RetryLater, which has
 * BullMQ run the job again after a wait, and the errors the run records (its timeout, a
 * fallback's provider failure).
 */
import { PromptError } from '../errors.js';
import type { ProviderDef } from '../model/types.js';
import type { ProviderFailureKind } from '../workflow/providerFailure.js';
import type { ErrorJSON } from '../workflow/types.js';
import type { ProviderFailureNote } from './runStore.js';

/** Thrown by a step job to have BullMQ run it again after `waitMs` (the worker's backoffStrategy reads it). */
export class RetryLater extends Error {
  constructor(
    readonly waitMs: number,
    message: string,
  ) {
    super(message);
    this.name = 'RetryLater';
  }
}

/** What a fallback's cause adds when its provider's call failed (as the in-process runner's fallbackCause). */
export function providerFailureNote(kind: ProviderFailureKind, provider: ProviderDef): ProviderFailureNote {
  const note: ProviderFailureNote = { kind, provider: provider.name };
  if (kind === 'missing_key' && provider.apiKeyEnv) note.apiKeyEnv = provider.apiKeyEnv;
  return note;
}

export function timeoutError(composition: string, ms: number): ErrorJSON {
  return new PromptError('timeout', `the run took longer than its timeout_ms of ${ms} ms`, { composition }).toJSON();
}
