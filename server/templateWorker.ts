/**
 * The worker thread that analyzes templates while the main thread parses YAML at start
 * (WorkspaceManager.prewarm). It runs its own small bundle, dist/templateWorker.js
 * (templateWorkerMain.ts).
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { answerPrewarmRequest, type PrewarmedTemplate, type TemplatePrewarmRequest } from '../core/validate/templatePrewarm.js';

const ROLE = 'promptmanager-template-prewarm';

export function isTemplateWorker(): boolean {
  return !isMainThread && (workerData as { role?: unknown } | null)?.role === ROLE;
}

/** The worker's side: analyze each request's templates and post the lists back. */
export function runTemplateWorker(): void {
  const requests = (workerData as { requests: TemplatePrewarmRequest[] }).requests;
  parentPort!.postMessage(requests.map((r) => answerPrewarmRequest(r)));
}

/**
 * Asks a worker running `script` (dist/templateWorker.js) for the analyses. Resolves with empty lists on
 * any failure or after `timeoutMs`: the caller then does the work itself.
 */
export function analyzeTemplatesInWorker(requests: TemplatePrewarmRequest[], script: string, timeoutMs = 15_000): Promise<PrewarmedTemplate[][]> {
  const none = requests.map(() => []);
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      // Its stdout is not ours: a stray write must never reach the LSP stream.
      worker = new Worker(script, { workerData: { role: ROLE, requests }, stdout: true, stderr: true, resourceLimits: { maxOldGenerationSizeMb: 1024 } });
    } catch {
      resolve(none);
      return;
    }
    let settled = false;
    const done = (value: PrewarmedTemplate[][]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate().catch(() => undefined);
      resolve(value);
    };
    const timer = setTimeout(() => done(none), timeoutMs);
    worker.stdout.resume();
    worker.stderr.resume();
    worker.once('message', (m: unknown) => done(Array.isArray(m) && m.length === requests.length ? (m as PrewarmedTemplate[][]) : none));
    worker.once('error', () => done(none));
    worker.once('exit', () => done(none));
  });
}
