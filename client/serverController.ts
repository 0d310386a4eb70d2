/**
 * Starts the bundled language server (dist/server.js) over IPC with vscode-languageclient,
 * restarts it when it crashes (saying so), and gives the rest of the client one typed way to
 * call the server's custom requests (protocol/protocol.ts).
 *
 * Provider API keys come from SecretStorage and reach the server as environment variables of
 * its process (the engine reads a provider's key from the variable its `api_key_env` names):
 * never through settings, initialization options or any logged message.
 *
 * The server's process is started here rather than by vscode-languageclient, as the library
 * would start it (fork, IPC, the same arguments and environment), for one reason: as soon as
 * activate() returns. For a NodeModule the library first checks the working directory with an
 * asynchronous lstat, and its callback waits behind whatever else the extension host had queued:
 * 50-120 ms in the end-to-end runs, before a process whose own start is most of the time to a
 * ready server (at most 500 ms from activation: bench/RESULTS.md).
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  ErrorCodes,
  IPCMessageReader,
  IPCMessageWriter,
  LanguageClient,
  ResponseError,
  RevealOutputChannelOn,
  State,
  type LanguageClientOptions,
  type MessageTransports,
  type NotificationType,
  type RequestType,
} from 'vscode-languageclient/node';
import { SETTING_DEFAULTS, type PromptManagerSettings } from '../protocol/protocol.js';
import { COMPOSITION_RULES_FILE, PROMPT_TESTS_DIR, PROMPT_TESTS_FILE, SERVICE_MAPPINGS_FILE } from '../protocol/configFiles.js';
import { CrashPolicy, secretKey } from './policy.js';

export const CLIENT_ID = 'promptManager';
export const CLIENT_NAME = 'PromptManager Language Server';
const KEY_NAMES = 'promptManager.apiKeyNames';

/** The `promptManager` settings as the server reads them (workspace/configuration). */
export function readSettings(scope?: vscode.Uri): PromptManagerSettings {
  const c = vscode.workspace.getConfiguration('promptManager', scope);
  const env = c.get<string>('environment', SETTING_DEFAULTS.environment);
  return {
    templatesRoot: c.get<string>('templatesRoot', SETTING_DEFAULTS.templatesRoot),
    diagnostics: { disabledCodes: c.get<string[]>('diagnostics.disabledCodes', [...SETTING_DEFAULTS['diagnostics.disabledCodes']]) },
    maxProblemsPerFile: c.get<number>('maxProblemsPerFile', SETTING_DEFAULTS.maxProblemsPerFile),
    trace: { server: c.get<'off' | 'messages' | 'verbose'>('trace.server', SETTING_DEFAULTS['trace.server']) },
    environment: env === 'production' || env === 'testing' ? env : 'development',
    // Where runs execute: machine settings, and never from an untrusted workspace.
    run: vscode.workspace.isTrusted
      ? { backend: c.get<string>('run.backend', SETTING_DEFAULTS['run.backend']) === 'bullmq' ? 'bullmq' : 'in-process', redisUrl: c.get<string>('run.redisUrl', SETTING_DEFAULTS['run.redisUrl']) }
      : { backend: 'in-process' },
  };
}

export class ServerUnavailableError extends Error {}

/** Why the connection to the server last went away (what a request it cut short should say). */
export interface ServerStop {
  /** `crashed`: the process exited on its own; `restarted`: a restart this client asked for. */
  reason: 'crashed' | 'restarted';
  /** Whether a new server is being started. */
  restarting: boolean;
  at: number;
}

/** How long a stopped server's process may take to exit before it is killed (as vscode-languageclient waits). */
const EXIT_GRACE_MS = 2000;

export class ServerController implements vscode.Disposable {
  readonly client: LanguageClient;
  private readonly module: string;
  /** The process the client is connected to, or was last. */
  private process: ChildProcess | undefined;
  private readonly policy = new CrashPolicy();
  private starting: Promise<void> | undefined;
  private readonly stateEmitter = new vscode.EventEmitter<'starting' | 'running' | 'stopped'>();
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  private stop_: ServerStop | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.module = context.asAbsolutePath('dist/server.js');
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: 'file', language: 'yaml', pattern: `**/${SERVICE_MAPPINGS_FILE}` },
        { scheme: 'file', language: 'yaml', pattern: `**/${COMPOSITION_RULES_FILE}` },
        { scheme: 'file', language: 'yaml', pattern: `**/${PROMPT_TESTS_FILE}` },
        { scheme: 'file', language: 'yaml', pattern: `**/${PROMPT_TESTS_DIR}/**/*.yaml` },
        // A test's context_file: checked as you type (the server ignores JSON no test names).
        { scheme: 'file', language: 'json', pattern: '**/*.json' },
        { scheme: 'file', language: 'handlebars' },
        { scheme: 'file', pattern: '**/*.{hbs,handlebars}' },
      ],
      synchronize: { configurationSection: 'promptManager' },
      // The server enforces workspace trust too (no provider step runs untrusted): it starts with the current trust.
      initializationOptions: () => ({ settings: readSettings(), trusted: vscode.workspace.isTrusted }),
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      diagnosticCollectionName: 'promptmanager',
      errorHandler: {
        error: (_error, _message, count) => ({ action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown }),
        closed: () => {
          const { restart, recent } = this.policy.onCrash(Date.now());
          // Set before the requests in flight see their rejection (the client rejects them, then asks this handler).
          this.stop_ = { reason: 'crashed', restarting: restart, at: Date.now() };
          if (restart) {
            void vscode.window
              .showWarningMessage(`PromptManager: the language server stopped unexpectedly and was restarted${recent > 1 ? ` (${recent} times in the last 3 minutes)` : ''}.`, 'Show Server Log')
              .then((a) => a && this.client.outputChannel.show());
            return { action: CloseAction.Restart, handled: true };
          }
          void vscode.window
            .showErrorMessage(`PromptManager: the language server crashed ${recent} times in 3 minutes and was not restarted. Diagnostics, previews and runs are off until you restart it.`, 'Restart Server', 'Show Server Log')
            .then((a) => {
              if (a === 'Restart Server') void vscode.commands.executeCommand('promptManager.restartServer');
              else if (a) this.client.outputChannel.show();
            });
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    // Called for every start: the first, a restart, and a restart after a crash.
    this.client = new LanguageClient(CLIENT_ID, CLIENT_NAME, () => this.transports(), clientOptions);
    this.disposables.push(
      this.stateEmitter,
      this.client.onDidChangeState((e) => {
        this.stateEmitter.fire(e.newState === State.Running ? 'running' : e.newState === State.Starting ? 'starting' : 'stopped');
      }),
    );
  }

  get isRunning(): boolean {
    return this.client.state === State.Running;
  }

  /** Starts the server (with the current provider keys in its environment). */
  start(): Promise<void> {
    this.starting ??= this.client.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** Stops and starts the server again: `PromptManager: Restart Server`, and after a key changed. */
  async restart(): Promise<void> {
    this.policy.reset();
    this.stop_ = { reason: 'restarted', restarting: true, at: Date.now() };
    if (this.client.state === State.Running) await this.client.restart();
    else {
      if (this.client.state === State.Starting) await this.client.stop().catch(() => undefined);
      await this.client.start();
    }
  }

  /** Why the connection last went away, when it did (for a request it cut short). */
  get lastStop(): ServerStop | undefined {
    return this.stop_;
  }

  /**
   * Sends a custom request, waiting for a starting server (also one restarting after a crash);
   * a stopped server is an error users can act on.
   */
  async request<P, R>(type: RequestType<P, R, void>, params: P, token?: vscode.CancellationToken): Promise<R> {
    if (this.starting) await this.starting.catch(() => undefined);
    await this.untilRunning(30_000);
    if (this.client.state !== State.Running) throw new ServerUnavailableError('The PromptManager language server is not running: run "PromptManager: Restart Server".');
    // By method name: the typed overloads do not resolve for a generic P (the params go as they are either way).
    // (No trailing undefined token: it would turn the params into a positional array.)
    return token ? this.client.sendRequest<R>(type.method, params, token) : this.client.sendRequest<R>(type.method, params);
  }

  /** Waits (up to `timeoutMs`) while the server is starting, or stopped by a crash and about to be restarted. */
  private async untilRunning(timeoutMs: number): Promise<void> {
    const pending = () =>
      this.client.state === State.Starting ||
      (this.client.state === State.Stopped && this.stop_?.reason === 'crashed' && this.stop_.restarting && Date.now() - this.stop_.at < timeoutMs);
    if (!pending()) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        clearInterval(poll);
        sub.dispose();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      // The state events say when it runs; the poll notices a restart that gave up.
      const poll = setInterval(() => !pending() && done(), 250);
      const sub = this.client.onDidChangeState((e) => e.newState === State.Running && done());
    });
  }

  onNotification<P>(type: NotificationType<P>, handler: (p: P) => void): vscode.Disposable {
    return this.client.onNotification(type, handler);
  }

  /** Sends a notification when the server runs (a stopped server gets the state again when it starts). */
  notify<P>(type: NotificationType<P>, params: P): void {
    if (this.client.state === State.Running) void this.client.sendNotification(type.method, params).catch(() => undefined);
  }

  // ---------------------------------------------------------------- provider keys

  /** Names of the environment variables that have a key in SecretStorage (names only, never values). */
  keyNames(): string[] {
    return this.context.globalState.get<string[]>(KEY_NAMES, []);
  }

  async setKey(envName: string, value: string | undefined): Promise<void> {
    const names = new Set(this.keyNames());
    if (value) {
      await this.context.secrets.store(secretKey(envName), value);
      names.add(envName);
    } else {
      await this.context.secrets.delete(secretKey(envName));
      names.delete(envName);
    }
    await this.context.globalState.update(KEY_NAMES, [...names].sort());
  }

  /** The provider keys, as environment variables for the server's process. */
  private async secretsEnv(): Promise<Record<string, string>> {
    const env: Record<string, string> = {};
    for (const name of this.keyNames()) {
      const v = await this.context.secrets.get(secretKey(name));
      if (v) env[name] = v;
    }
    return env;
  }

  // ---------------------------------------------------------------- the server's process

  /** The connection for a start of the client, to a new process. */
  private async transports(): Promise<MessageTransports> {
    const sp = this.spawn(await this.secretsEnv());
    this.retire(this.process);
    this.process = sp;
    // The server's own output (a stray write, a crash's stack) goes to the server log, as the library pipes it.
    const channel = this.client.outputChannel;
    if (sp.stdout) readline.createInterface({ input: sp.stdout, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', (l) => channel.info(l));
    if (sp.stderr) readline.createInterface({ input: sp.stderr, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', (l) => channel.error(l));
    sp.on('exit', (code, signal) => {
      if (code === 0) channel.info('Server process exited successfully');
      else if (code !== null) channel.error(`Server process exited with code ${code}.`);
      if (signal !== null) channel.error(`Server process exited with signal ${signal}.`);
    });
    return { reader: new IPCMessageReader(sp), writer: new IPCMessageWriter(sp) };
  }

  /**
   * Starts the server's process as vscode-languageclient starts a NodeModule over IPC: fork with
   * ELECTRON_RUN_AS_NODE (the extension host may be Electron), the client's pid for the server's
   * watchdog, the first workspace folder as working directory, and a debug port when the
   * extension host is itself being debugged.
   */
  private spawn(keys: Record<string, string>): ChildProcess {
    const debug = process.execArgv.some((a) => /^--(inspect|debug)(-brk)?(=|$)/.test(a));
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
    const cwd = folder && isDirectory(folder) ? folder : undefined;
    // Node 22.1+ keeps V8's compiled code of the bundle here: later starts skip most of the parse.
    const compileCache = process.env.NODE_COMPILE_CACHE ?? path.join(this.context.globalStorageUri.fsPath, 'compile-cache');
    return fork(this.module, ['--node-ipc', `--clientProcessId=${process.pid}`], {
      cwd,
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ELECTRON_NO_ASAR: '1', NODE_COMPILE_CACHE: compileCache, ...keys },
      execArgv: debug ? ['--nolazy', '--inspect=6019'] : [],
      silent: true,
    });
  }

  /** A process the client no longer uses: it exits by itself after `exit`; one that does not is killed. */
  private retire(sp: ChildProcess | undefined): void {
    if (!sp || sp.exitCode !== null || sp.signalCode !== null) return;
    const timer = setTimeout(() => sp.exitCode === null && sp.signalCode === null && sp.kill(), EXIT_GRACE_MS);
    timer.unref?.();
    sp.once('exit', () => clearTimeout(timer));
  }

  /** Called after the client stopped (deactivation): the process must not outlive the extension. */
  retireProcess(): void {
    this.retire(this.process);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether a request failed because the connection to the server went away while it waited for
 * the answer (the server's process exited or was restarted): the answer will never come.
 */
export function isConnectionLost(e: unknown): boolean {
  return e instanceof ResponseError && (e.code === ErrorCodes.PendingResponseRejected || e.code === ErrorCodes.ConnectionInactive);
}

/** A message for a failed request: the server's own words for the errors it answers. */
export function requestErrorMessage(e: unknown): string {
  if (e instanceof ServerUnavailableError) return e.message;
  if (isConnectionLost(e)) return 'PromptManager: the language server stopped before it answered (it restarts by itself after a crash): try again.';
  if (e instanceof ResponseError) {
    const code = (e.data as { code?: string } | undefined)?.code;
    return `PromptManager: ${code ? `${code}: ` : ''}${e.message}`;
  }
  return `PromptManager: ${(e as Error)?.message ?? String(e)}`;
}

/** Whether the server does not implement a request (an older server). */
export function isMethodNotFound(e: unknown): boolean {
  return e instanceof ResponseError && e.code === -32601;
}
