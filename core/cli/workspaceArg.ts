/** Which prompt workspace a command works on, and reading a JSON context. */
import * as path from 'node:path';
import { LIMITS } from '../limits.js';
import { findPromptWorkspaces } from '../workspace/discover.js';
import { FileReadError, readBoundedText } from '../workspace/fileRead.js';
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
