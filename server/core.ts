/**
 * The entry of dist/serverCore.js: everything of the server but the connection, loaded by
 * dist/server.js (main.ts) once the client has the server's capabilities. In the template
 * worker thread it answers the worker's request instead.
 */
import { runTemplateWorker } from './templateWorker.js';
import { isTemplateWorker } from './workerRole.js';

export { startServer } from './server.js';
export { analyzeTemplatesInWorker } from './templateWorker.js';

if (isTemplateWorker()) runTemplateWorker();
