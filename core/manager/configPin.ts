/**
 * The content hash a distributed run pins: the two configuration files and every template's
 * name and text. A worker renders a run's steps only with a configuration of the same hash, so
 * that a worker that has another version of the workspace never silently renders other
 * templates than the run started with. Paths are left out: the same workspace checked out in
 * another folder (another machine) has the same hash.
 */
import { createHash } from 'node:crypto';
import type { EngineSnapshot } from './snapshot.js';

export function configPin(snapshot: EngineSnapshot, configTexts: string): string {
  const h = createHash('sha256');
  h.update(configTexts);
  for (const name of [...snapshot.validation.templates.keys()].sort()) {
    h.update('\u0000');
    h.update(name);
    h.update('\u0000');
    h.update(snapshot.validation.templates.get(name)!.text);
  }
  return h.digest('hex').slice(0, 16);
}
