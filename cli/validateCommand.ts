/** `promptmanager validate [DIR...] [--format text|json]`: what users put in CI. */
import * as path from 'node:path';
import type { PromptDiagnostic } from '../core/model/diagnostics.js';
import { findPromptWorkspaces, validateWorkspace } from '../core/validate/validateWorkspace.js';
import { plural } from '../core/plural.js';
import { parseArgs, UsageError } from './args.js';
import { folderArgument, LOOKED_FOR } from './workspaceArg.js';

export interface CommandIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  cwd: string;
  isTTY: boolean;
}

export interface JsonDiagnostic {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: PromptDiagnostic['severity'];
  code: string;
  message: string;
  related: { file: string; line: number; column: number; message: string }[];
}

export function toJsonDiagnostic(d: PromptDiagnostic): JsonDiagnostic {
  return {
    file: d.file,
    line: d.range.start.line + 1,
    column: d.range.start.character + 1,
    endLine: d.range.end.line + 1,
    endColumn: d.range.end.character + 1,
    severity: d.severity,
    code: d.code,
    message: d.message,
    related: (d.related ?? []).map((r) => ({ file: r.file, line: r.range.start.line + 1, column: r.range.start.character + 1, message: r.message })),
  };
}

export function formatDiagnostic(d: PromptDiagnostic, cwd: string): string {
  const rel = path.relative(cwd, d.file) || d.file;
  return `${rel}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity} ${d.code} ${d.message}`;
}

export async function validateCommand(argv: string[], io: CommandIO): Promise<number> {
  const args = parseArgs(argv, new Set(['help']), new Set(['format']));
  const format = (args.flags.get('format') as string | undefined) ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--format must be text or json, got '${format}'`);
  const dirs = args.positionals.length ? args.positionals : ['.'];
  const all: PromptDiagnostic[] = [];
  let workspaces = 0;
  const seen = new Set<string>();
  for (const dir of dirs) {
    // A configuration file or a template stands for its workspace (a hook's list of changed files).
    const arg = folderArgument(dir, io.cwd);
    const found = arg.file ? [arg.dir] : findPromptWorkspaces(arg.dir);
    if (!found.length) {
      io.stderr(`promptmanager: no prompt workspace under ${dir} ${LOOKED_FOR}\n`);
      return 1;
    }
    for (const ws of found) {
      if (seen.has(ws)) continue;
      seen.add(ws);
      workspaces++;
      all.push(...validateWorkspace(ws).diagnostics);
    }
  }
  const errors = all.filter((d) => d.severity === 'error').length;
  const warnings = all.filter((d) => d.severity === 'warning').length;
  const infos = all.length - errors - warnings;
  if (format === 'json') {
    io.stdout(JSON.stringify(all.map(toJsonDiagnostic), null, 2) + '\n');
  } else {
    for (const d of all) io.stdout(formatDiagnostic(d, io.cwd) + '\n');
    io.stdout(`${plural(errors, 'error')}, ${plural(warnings, 'warning')}, ${infos} information in ${plural(workspaces, 'prompt workspace')}\n`);
  }
  return errors > 0 ? 1 : 0;
}
