/** Which prompt workspace a command works on, and reading a JSON context. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LIMITS } from '../core/limits.js';
import { COMPOSITION_RULES_FILE, findPromptWorkspaces, SERVICE_MAPPINGS_FILE } from '../core/workspace/discover.js';
import { workspaceRootOf } from '../core/workspace/queries.js';
import { FileReadError, readBoundedText } from '../core/workspace/fileRead.js';
import { UsageError } from './args.js';

export const LOOKED_FOR = `(looked for ${SERVICE_MAPPINGS_FILE} or ${COMPOSITION_RULES_FILE})`;

/**
 * Where a folder argument points: the folder itself; for a file, its prompt workspace (the
 * folder of a service_mappings.yaml or composition_rules.yaml, or the nearest one above a
 * template), so that `validate prompts/composition_rules.yaml` and a list of changed files
 * from a pre-commit hook work. `file` is set when the argument was a file.
 */
export function folderArgument(arg: string, cwd: string): { dir: string; file?: string } {
  const abs = path.resolve(cwd, arg);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw new UsageError(`the folder ${arg} does not exist${path.isAbsolute(arg) ? '' : ` (in ${cwd})`}`);
  }
  if (stat.isDirectory()) return { dir: abs };
  const ws = workspaceRootOf(abs);
  if (!ws) throw new UsageError(`${arg} is a file in no prompt workspace: no folder from its own up holds ${SERVICE_MAPPINGS_FILE} or ${COMPOSITION_RULES_FILE}`);
  return { dir: ws, file: abs };
}

/**
 * A command's one prompt workspace: `dir` (or the current folder) if it is one, else the only
 * one under it. `flag` is how the user names the folder, for the hint when none or several are found.
 */
export function pickWorkspace(dir: string | undefined, cwd: string, flag = '--dir'): string {
  const shown = dir ?? '.';
  const { dir: abs, file } = folderArgument(shown, cwd);
  if (file) return abs;
  const found = findPromptWorkspaces(abs);
  if (found.includes(abs)) return abs;
  if (found.length === 1) return found[0]!;
  if (!found.length) throw new UsageError(`no prompt workspace under ${shown} ${LOOKED_FOR}${dir === undefined ? `; pass ${flag}` : ''}`);
  throw new UsageError(`several prompt workspaces under ${shown}: ${found.map((f) => path.relative(cwd, f) || '.').join(', ')}; pick one with ${flag}`);
}

export async function readContext(arg: string | undefined, cwd: string, stdin: () => Promise<string>): Promise<Record<string, unknown>> {
  if (arg === undefined) return {};
  let text: string;
  let where: string;
  if (arg === '-') {
    text = await stdin();
    where = 'standard input';
  } else {
    text = await readContextFile(path.resolve(cwd, arg), arg);
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

/**
 * A context file's text. The user named it, so a FIFO or `<(...)` is waited for as `cat`
 * would; a folder or socket is refused, and nothing past `maxContextBytes` is read (a link to
 * /dev/zero stops there).
 */
export async function readContextFile(file: string, shown: string = file): Promise<string> {
  try {
    return await readBoundedText(file, LIMITS.maxContextBytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof FileReadError) {
      const why = e.problem === 'too-large' ? `it holds more than ${LIMITS.maxContextBytes} bytes (maxContextBytes)` : e.reason;
      throw new UsageError(`cannot read the context file ${shown}: ${why}`);
    }
    throw new UsageError(`cannot read the context file ${shown}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** Standard input, up to `maxContextBytes`. */
export function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (c: Buffer) => {
      bytes += c.length;
      if (bytes > LIMITS.maxContextBytes) {
        process.stdin.off('data', onData);
        process.stdin.pause();
        reject(new UsageError(`the context on standard input holds more than ${LIMITS.maxContextBytes} bytes (maxContextBytes)`));
        return;
      }
      chunks.push(c);
    };
    process.stdin.on('data', onData);
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}
