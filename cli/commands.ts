/** The CLI's commands, by name. */
import { demoCommand } from './demo/demoCommand.js';
import { graphCommand, renderCommand, runCommand } from './engineCommands.js';
import { testCommand } from './testCommand.js';
import { validateCommand, type CommandIO } from './validateCommand.js';
import { workerCommand } from './workerCommand.js';

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
  render: {
    summary: 'Render one template with a JSON context, optionally as a service (access, required context, fallback).',
    usage: 'render TEMPLATE [--context FILE|-] [--service NAME] [--dir DIR] [--json]',
    run: renderCommand,
  },
  run: {
    summary: 'Run a composition with live progress on stderr and its output on stdout (on workers with --redis or PROMPTMANAGER_REDIS_URL); exit 0 succeeded, 2 partial, 1 failed.',
    usage: 'run COMPOSITION [--context FILE|-] [--service NAME] [--dir DIR] [--max-parallel N] [--id RUN_ID] [--redis URL] [--response-cache] [--json]',
    run: runCommand,
  },
  graph: {
    summary: "Print a composition's DAG as Mermaid (default) or Graphviz dot.",
    usage: 'graph COMPOSITION [--format mermaid|dot] [--dir DIR]',
    run: graphCommand,
  },
  worker: {
    summary: 'Execute the steps of distributed runs (BullMQ over Redis) for the prompt workspace in DIR, until SIGTERM or Ctrl-C.',
    usage: 'worker [--dir DIR] [--redis URL] [--concurrency N] [--prefix PREFIX] [--grace-ms MS] [--eager-steps N] [--log-jobs]',
    run: workerCommand,
  },
  test: {
    summary: 'Run the prompt tests of every prompt workspace under each DIR (default .), or of a test file; exit 1 when any fails.',
    usage: 'test [DIR|FILE...] [--filter REGEX] [--update-snapshots] [--reporter text|json|junit] [--output FILE] [--live] [--repeat N] [--compare] [--concurrency N] [--no-cache] [--redis URL]',
    run: testCommand,
  },
  demo: {
    summary: 'Validate, render and run workflows on the bundled examples, with no network.',
    usage: 'demo [DIR]',
    run: demoCommand,
  },
};
