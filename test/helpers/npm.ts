/** Running npm and node from tests: a clean environment and a clear failure. */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';

/** process.env without an outer `npm run`'s lifecycle context, which would point npm at the repository. */
export function npmEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false', ...extra };
  for (const k of Object.keys(env)) {
    if (/^npm_(package|lifecycle)_/i.test(k) || k === 'npm_config_local_prefix' || k === 'INIT_CWD') delete env[k];
  }
  return env;
}

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; `check` throws with its output when it exits non-zero. */
export function sh(cmd: string, args: string[], options: SpawnSyncOptions & { check?: boolean } = {}): Ran {
  const { check = true, ...opts } = options;
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 300_000, ...opts });
  const out: Ran = { code: r.status, stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? '') };
  if (check && (r.error || r.status !== 0)) {
    throw new Error(`\`${cmd} ${args.join(' ')}\` ${r.error ? `could not run: ${r.error.message}` : `exited ${r.status}${r.signal ? ` (${r.signal})` : ''}`}\n${out.stdout}\n${out.stderr}`);
  }
  return out;
}
