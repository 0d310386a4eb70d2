/**
 * The templates root: every `.hbs`/`.handlebars` file below it by name, and the rule that
 * decides whether a name stays inside it.
 */
import * as path from 'node:path';
import type { FileSystemHost } from './fileSystem.js';

export const TEMPLATE_EXTENSIONS = ['.hbs', '.handlebars'] as const;
const MAX_DEPTH = 32;

export interface TemplateFile {
  name: string;
  file: string;
  /** Why a path named like a template cannot be one (a folder named `x.hbs`); it is not read. */
  problem?: string;
}

export type NameResolution =
  | { kind: 'inside'; file: string }
  | { kind: 'outside'; reason: string };

/**
 * Where a template name points, without reading anything: a name with `..` that climbs out,
 * an absolute path or a backslash path is outside; so is a file reached through a symlink
 * that leaves the root.
 */
export function resolveTemplateName(root: string, name: string, fs?: FileSystemHost): NameResolution {
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\')) {
    return { kind: 'outside', reason: 'an absolute path' };
  }
  const target = path.resolve(root, name);
  const rel = path.relative(root, target);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return { kind: 'outside', reason: `it resolves to ${target}` };
  if (fs) {
    const realRoot = fs.realpath(root) ?? root;
    for (const ext of TEMPLATE_EXTENSIONS) {
      const real = fs.realpath(target + ext);
      if (!real) continue;
      const r = path.relative(realRoot, real);
      if (r.startsWith('..') || path.isAbsolute(r)) return { kind: 'outside', reason: `it is a link to ${real}` };
    }
  }
  return { kind: 'inside', file: target };
}

/**
 * Lists every template below the root. Symlinks that leave the root are skipped. A folder
 * named like a template is listed with a `problem` (and searched like any folder); a FIFO,
 * socket or device named like one is listed as it is, and the read refuses it.
 */
export function listTemplates(root: string, fs: FileSystemHost): TemplateFile[] {
  const out: TemplateFile[] = [];
  const realRoot = fs.realpath(root);
  if (!realRoot) return out;
  const seen = new Set<string>();
  const visit = (dir: string, depth: number) => {
    if (depth > MAX_DEPTH) return;
    const real = fs.realpath(dir);
    if (!real || seen.has(real)) return;
    seen.add(real);
    const entries = fs.readDirectory(dir);
    if (!entries) return;
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = path.join(dir, e.name);
      if (e.isSymbolicLink) {
        const r = fs.realpath(p);
        if (!r) continue;
        const rel = path.relative(realRoot, r);
        if (rel.startsWith('..') || path.isAbsolute(rel)) continue;
      }
      const ext = TEMPLATE_EXTENSIONS.find((x) => e.name.endsWith(x));
      const name = ext && path.relative(root, p).slice(0, -ext.length).split(path.sep).join('/');
      if (e.isDirectory || (e.isSymbolicLink && fs.readDirectory(p))) {
        if (name) out.push({ name, file: p, problem: `is a folder named like a template, not a template file; rename it (templates inside it are still found)` });
        visit(p, depth + 1);
        continue;
      }
      if (name) out.push({ name, file: p });
    }
  };
  visit(root, 0);
  return out;
}

export function isTemplateFile(file: string): boolean {
  return TEMPLATE_EXTENSIONS.some((x) => file.endsWith(x));
}
