/** Whether this thread is the server's template-analysis worker (templateWorker.ts), without loading it. */
import { isMainThread, workerData } from 'node:worker_threads';

export const TEMPLATE_WORKER_ROLE = 'promptmanager-template-prewarm';

export function isTemplateWorker(): boolean {
  return !isMainThread && (workerData as { role?: unknown } | null)?.role === TEMPLATE_WORKER_ROLE;
}
