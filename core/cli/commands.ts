/** The CLI's commands, by name. */
import { validateCommand, type CommandIO } from './validateCommand.js';

export interface Command {
  summary: string;
  usage: string;
  run(argv: string[], io: CommandIO): Promise<number>;
}

export const COMMANDS: Record<string, Command> = {
  validate: {
    summary: 'Check every prompt workspace under each DIR (default .); exit 1 on any error.',
    usage: 'validate [DIR...] [--format text|json]',
    run: validateCommand,
  },
};
