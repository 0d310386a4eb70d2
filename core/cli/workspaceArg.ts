/** Which prompt workspace a command works on, and reading a JSON context. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findPromptWorkspaces } from '../workspace/discover.js';
import { UsageError } from './args.js';

/** `--dir` (or the current folder): itself if it is a prompt workspace, else the only one under it. */
export function pickWorkspace(dir: string | undefined, cwd: string): string {
  const abs = path.resolve(cwd, dir ?? '.');
  const found = findPromptWorkspaces(abs);
  if (found.includes(abs)) return abs;
  if (found.length === 1) return found[0]!;
  if (!found.length) throw new UsageError(`no prompt workspace under ${dir ?? '.'} (looked for service_mappings.yaml or composition_rules.yaml); pass --dir`);
  throw new UsageError(`several prompt workspaces under ${dir ?? '.'}: ${found.map((f) => path.relative(cwd, f) || '.').join(', ')}; pick one with --dir`);
}

export async function readContext(arg: string | undefined, cwd: string, stdin: () => Promise<string>): Promise<Record<string, unknown>> {
  if (arg === undefined) return {};
  let text: string;
  let where: string;
  if (arg === '-') {
    text = await stdin();
    where = 'standard input';
  } else {
    const file = path.resolve(cwd, arg);
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read the context file ${arg}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    where = arg;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`the context in ${where} is not valid JSON: ${(e as Error).message}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`the context in ${where} must be a JSON object ({"key": value, ...})`);
  return value as Record<string, unknown>;
}

export function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c) => (data += c));
    process.stdin.on('end', () => resolve(data));
    process.stdin.on('error', reject);
  });
}
