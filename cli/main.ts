/**
 * The `promptmanager` command: the same engine as the editor, for terminals and CI.
 * Exit codes: 0 success, 1 errors (or a failed run), 2 a partial run, 64 a usage error.
 */
import { UsageError } from './args.js';
import { COMMANDS } from './commands.js';
import type { CommandIO } from './validateCommand.js';

const USAGE = `Usage: promptmanager <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)}${c.summary}\n  ${' '.repeat(10)}${c.usage}`)
  .join('\n')}

Run 'promptmanager <command> --help' for a command's options.
`;

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(USAGE);
    return name ? 0 : 64;
  }
  if (name === '--version') {
    io.stdout(`${process.env.PROMPTMANAGER_VERSION ?? '0.1.0'}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.stderr(`promptmanager: unknown command '${name}'\n\n${USAGE}`);
    return 64;
  }
  if (rest.includes('--help')) {
    io.stdout(`${cmd.summary}\n\nUsage: promptmanager ${cmd.usage}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`promptmanager ${name}: ${e.message}\nUsage: promptmanager ${cmd.usage}\n`);
      return 64;
    }
    const err = e as { code?: string; message?: string };
    io.stderr(`promptmanager ${name}: ${err.code ? `[${err.code}] ` : ''}${err.message ?? String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  const io: CommandIO = {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    cwd: process.cwd(),
    isTTY: !!process.stderr.isTTY,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`promptmanager: ${(e as Error).stack ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
