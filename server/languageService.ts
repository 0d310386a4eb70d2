/**
 * The entry of dist/languageService.js: everything of the server but the connection, loaded by
 * dist/server.js (main.ts) once it has answered `initialize`.
 */
export { startServer } from './server.js';
export { analyzeTemplatesInWorker } from './templateWorker.js';
