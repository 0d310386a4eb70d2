/**
 * Small decisions of the client, pure so that they are unit-tested: when to restart a crashed
 * server, which steps of a run call a model provider (refused in an untrusted workspace), which
 * prompt workspace a command is about, and how provider keys are named in SecretStorage.
 */

/** Restarts a crashed server up to `maxRestarts` times within `windowMs`, then gives up. */
export class CrashPolicy {
  private crashes: number[] = [];
  constructor(
    readonly maxRestarts = 4,
    readonly windowMs = 3 * 60_000,
  ) {}

  /** Records a crash at `now`; says whether to restart and how many crashes the window holds. */
  onCrash(now: number): { restart: boolean; recent: number } {
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    return { restart: this.crashes.length <= this.maxRestarts, recent: this.crashes.length };
  }

  /** Forgets past crashes (after a restart the user asked for). */
  reset(): void {
    this.crashes = [];
  }
}

/** The steps that send their prompt to a model provider. */
export function providerSteps(nodes: readonly { id: string; model?: string | undefined; skip?: boolean | undefined }[]): { id: string; model: string }[] {
  return nodes.filter((n) => n.model && !n.skip).map((n) => ({ id: n.id, model: n.model! }));
}

/** The message shown when a run is refused because the workspace is not trusted. */
export function untrustedRunMessage(composition: string, steps: { id: string; model: string }[]): string {
  const list = steps.map((s) => `${s.id} (${s.model})`).join(', ');
  return `PromptManager: ${composition} was not run: this workspace is not trusted, and step${steps.length === 1 ? '' : 's'} ${list} would send prompts to a model provider. Trust the workspace to run it; previews and validation work without trust.`;
}

/**
 * Picks the prompt workspace a command is about, without asking when it is clear: the one
 * holding the active file (the deepest, in a monorepo), else the only one, else the one at the
 * root of a workspace folder when exactly one is. Undefined means: ask the user.
 */
export function choosePromptWorkspace(workspaces: readonly string[], activeUri: string | undefined, folderUris: readonly string[]): string | undefined {
  const norm = (u: string) => u.replace(/\/+$/, '');
  const all = workspaces.map(norm);
  if (activeUri) {
    const a = norm(activeUri);
    const holding = all.filter((w) => a === w || a.startsWith(w + '/')).sort((x, y) => y.length - x.length);
    if (holding.length) return workspaces[all.indexOf(holding[0]!)];
  }
  if (workspaces.length === 1) return workspaces[0];
  const roots = all.filter((w) => folderUris.some((f) => norm(f) === w));
  if (roots.length === 1) return workspaces[all.indexOf(roots[0]!)];
  return undefined;
}

/** SecretStorage key of the API key read from environment variable `envName`. */
export const secretKey = (envName: string) => `promptManager.apiKey.${envName}`;

/** Environment variable names: letters, digits and `_`, not starting with a digit. */
export function envNameError(name: string): string | undefined {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? undefined : 'Use letters, digits and _ (e.g. OPENAI_API_KEY)';
}
