/**
 * The entry of dist/templateWorker.js, the template-analysis worker thread's own bundle
 * (templateWorker.ts): the Handlebars analysis and the template listing, without the validator,
 * the engine or the LSP library, so that the worker is ready well before the main thread has
 * parsed the YAML it works beside.
 */
import { isTemplateWorker, runTemplateWorker } from './templateWorker.js';

if (isTemplateWorker()) runTemplateWorker();
