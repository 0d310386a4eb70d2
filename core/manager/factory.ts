/**
 * Ways to get a PromptManager without assembling options by hand: for an application folder
 * (finding its prompt workspace and applying an environment preset), fully in memory for
 * tests, and bound to one service.
 */
import * as path from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import type Handlebars from 'handlebars';
import type { Clock } from '../clock.js';
import { PromptError } from '../errors.js';
import { findPromptWorkspaces } from '../validate/validateWorkspace.js';
import { COMPOSITION_RULES_FILE, CONFIG_FILE_NAMES, SERVICE_MAPPINGS_FILE } from '../workspace/discover.js';
import { memoryFileSystem, nodeFileSystem, type FileSystemHost } from '../workspace/fileSystem.js';
import { createDefaultExecutors, createOfflineExecutors, executorRegistry } from '../workflow/executors.js';
import type { WorkflowSettings } from './engineWorkflowPort.js';
import { environmentFromNodeEnv, type Environment } from './presets.js';
import { PromptManager, type PromptManagerOptions } from './promptManager.js';
import { PromptEnabledService } from './promptEnabledService.js';

/** Environment variable naming the prompt workspace (relative to appRoot, or absolute). */
export const WORKSPACE_ENV_VAR = 'PROMPTMANAGER_WORKSPACE';
/** Folders tried, in order, below appRoot when appRoot itself is not a prompt workspace. */
export const CONVENTIONAL_WORKSPACE_DIRS = ['prompts', 'config/prompts', 'src/prompts'] as const;

export interface AppManagerOptions extends Partial<Omit<PromptManagerOptions, 'root' | 'environment'>> {
  /** The application's folder. Default: the current directory. */
  appRoot?: string;
  /** Default: from NODE_ENV (production, test -> testing, otherwise development). */
  environment?: Environment;
  /** The prompt workspace, relative to appRoot; skips the search. */
  workspace?: string;
}

/** Whether a folder holds a configuration file; nothing is read (the validator reads, with its limits). */
function isWorkspace(dir: string, fs: FileSystemHost): boolean {
  return CONFIG_FILE_NAMES.some((f) => fs.realpath(path.join(dir, f)) !== undefined);
}

/**
 * The prompt workspace of an application. Search order (the first that applies wins):
 * 1. `options.workspace` (relative to appRoot);
 * 2. the PROMPTMANAGER_WORKSPACE environment variable (relative to appRoot);
 * 3. appRoot itself, when it holds service_mappings.yaml or composition_rules.yaml;
 * 4. `prompts/`, `config/prompts/`, `src/prompts/` below appRoot;
 * 5. the only prompt workspace found anywhere below appRoot (node_modules, dot folders,
 *    dist and out skipped). Several found is an error that lists them: say which with 1 or 2.
 */
export function findAppWorkspace(appRoot: string, options: { workspace?: string; fs?: FileSystemHost; env?: Record<string, string | undefined> } = {}): string {
  const fs = options.fs ?? nodeFileSystem;
  const root = path.resolve(appRoot);
  const explicit = options.workspace ?? (options.env ?? process.env)[WORKSPACE_ENV_VAR];
  if (explicit) {
    const dir = path.resolve(root, explicit);
    if (!isWorkspace(dir, fs)) {
      throw new PromptError('invalid_configuration', `${dir} (from ${options.workspace ? 'the workspace option' : WORKSPACE_ENV_VAR}) holds neither ${SERVICE_MAPPINGS_FILE} nor ${COMPOSITION_RULES_FILE}`);
    }
    return dir;
  }
  if (isWorkspace(root, fs)) return root;
  for (const rel of CONVENTIONAL_WORKSPACE_DIRS) {
    const dir = path.join(root, rel);
    if (isWorkspace(dir, fs)) return dir;
  }
  const found = findPromptWorkspaces(root, fs);
  if (found.length === 1) return found[0]!;
  if (found.length === 0) {
    throw new PromptError(
      'invalid_configuration',
      `No prompt workspace under ${root}: looked for ${SERVICE_MAPPINGS_FILE} or ${COMPOSITION_RULES_FILE} in it, in ${CONVENTIONAL_WORKSPACE_DIRS.join(', ')}, and below it`,
    );
  }
  throw new PromptError(
    'invalid_configuration',
    `Several prompt workspaces under ${root}: ${found.map((f) => path.relative(root, f) || '.').join(', ')}; pass { workspace } or set ${WORKSPACE_ENV_VAR}`,
  );
}

/** A manager for an application: finds its prompt workspace and applies the environment preset. */
export async function createPromptManagerForApp(options: AppManagerOptions = {}): Promise<PromptManager> {
  const { appRoot, workspace, environment, ...rest } = options;
  const env = environment ?? environmentFromNodeEnv(process.env.NODE_ENV);
  const root = findAppWorkspace(appRoot ?? process.cwd(), { workspace, fs: rest.fs });
  return PromptManager.create({ ...rest, root, environment: env });
}

export interface TestingOptions {
  /** Template sources by name (`analysis/summary` -> `templates/analysis/summary.hbs`). */
  templates?: Record<string, string>;
  /** service_mappings.yaml as YAML text or as the object it would parse to. */
  serviceMappings?: string | Record<string, unknown>;
  compositionRules?: string | Record<string, unknown>;
  clock?: Clock;
  idGenerator?: () => string;
  strict?: boolean;
  helpers?: Record<string, Handlebars.HelperDelegate>;
  cache?: PromptManagerOptions['cache'];
  /** Render limits of this manager (partial depth, output size, work, time); default `LIMITS`. */
  limits?: PromptManagerOptions['limits'];
  /** Where the in-memory workspace pretends to live (paths in errors). */
  root?: string;
  /**
   * Settings of the workflow engine (`PromptManagerOptions.workflow`). `executors` lists your
   * model clients and mocks (`createMockExecutor`), each serving the providers whose `type` is
   * its name; `env` supplies API keys.
   */
  workflow?: WorkflowSettings;
  /**
   * False (default): nothing reaches the network. `openai-compatible` providers that no
   * executor of yours serves fail at once with `provider_error`, saying how to mock them.
   * True: they call their base_url as in production.
   */
  allowNetwork?: boolean;
  /** Where a template's `{{log}}` goes (default stderr). */
  onTemplateLog?: PromptManagerOptions['onTemplateLog'];
  /** `performanceAlert` events (`PromptManagerOptions.alerts`); `false` turns them off. */
  alerts?: PromptManagerOptions['alerts'];
  /** Samples a percentile needs before health or an alert judges it (default 20). */
  healthMinSamples?: number;
}

/** Folder of the in-memory workspace of `createTesting`; nothing is read from or written to it. */
export const TESTING_ROOT = path.resolve('/promptmanager-testing');

/**
 * A manager held entirely in memory (testing preset: no cache, no watching, deterministic run
 * ids), validated by the same validator as files on disk: an invalid configuration fails the
 * same way. Workflows never reach the network unless `allowNetwork` is set: provider steps
 * are answered by the executors in `workflow.executors` (a mock model: `createMockExecutor`).
 */
export async function createTesting(options: TestingOptions = {}): Promise<PromptManager> {
  const root = options.root ? path.resolve(options.root) : TESTING_ROOT;
  const files: Record<string, string> = {};
  for (const [name, source] of Object.entries(options.templates ?? {})) {
    files[path.join(root, 'templates', ...name.split('/')) + '.hbs'] = source;
  }
  const asYaml = (v: string | Record<string, unknown>) => (typeof v === 'string' ? v : yamlStringify({ version: 1, ...v }));
  if (options.serviceMappings !== undefined) files[path.join(root, SERVICE_MAPPINGS_FILE)] = asYaml(options.serviceMappings);
  if (options.compositionRules !== undefined) files[path.join(root, COMPOSITION_RULES_FILE)] = asYaml(options.compositionRules);
  return PromptManager.create({
    root,
    environment: 'testing',
    fs: memoryFileSystem(files),
    watch: false,
    clock: options.clock,
    idGenerator: options.idGenerator,
    strict: options.strict,
    helpers: options.helpers,
    cache: options.cache,
    limits: options.limits,
    workflow: { ...options.workflow, executors: executorRegistry(options.workflow?.executors, options.allowNetwork ? createDefaultExecutors : createOfflineExecutors) },
    onTemplateLog: options.onTemplateLog,
    ...(options.alerts !== undefined ? { alerts: options.alerts } : {}),
    ...(options.healthMinSamples !== undefined ? { healthMinSamples: options.healthMinSamples } : {}),
  });
}

export interface ServiceManagerOptions extends AppManagerOptions {
  /** Use this manager instead of creating one for the application. */
  promptManager?: PromptManager;
}

/**
 * A PromptEnabledService bound to `serviceName`, on the given manager or on a new one for the
 * application (`createPromptManagerForApp(options)`). Fails with `access_denied` when the
 * configuration does not define the service.
 */
export async function createServiceManager(serviceName: string, options: ServiceManagerOptions = {}): Promise<PromptEnabledService> {
  const { promptManager, ...appOptions } = options;
  const manager = promptManager ?? (await createPromptManagerForApp(appOptions));
  try {
    return new PromptEnabledService({ promptManager: manager, serviceName });
  } catch (e) {
    if (!promptManager) await manager.close();
    throw e;
  }
}
