/**
 * The distributed back end's configuration: where Redis is, under which prefix, and the
 * environment variable the CLI and the language server read. Types only, and no import of
 * BullMQ or ioredis (redisClient.ts loads them, lazily), so that the library's public types do
 * not depend on theirs.
 */

/** The environment variable the CLI and the language server read the Redis URL from. */
export const REDIS_URL_ENV = 'PROMPTMANAGER_REDIS_URL';
/** Key prefix of everything the back end keeps in Redis (BullMQ's queues and the runs). */
export const DEFAULT_PREFIX = 'promptmanager';
/** Finished runs' status and events stay this long in Redis by default (24 hours). */
export const DEFAULT_HISTORY_TTL_MS = 24 * 3600_000;

export interface RedisConnectionOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. */
  url?: string;
  /** ioredis options (`RedisOptions`), merged over what the URL says. */
  options?: Record<string, unknown>;
}

export interface BullmqBackendConfig {
  type: 'bullmq';
  connection: RedisConnectionOptions;
  /** Key prefix in Redis (default `promptmanager`): two deployments on one Redis keep apart by it. */
  prefix?: string;
  /** How long a finished run's status and events stay in Redis, in milliseconds (default 24 h). */
  historyTtlMs?: number;
}

export interface InProcessBackendConfig {
  type: 'in-process';
}

/** Where workflow runs execute: in this process (the default), or as BullMQ jobs on workers. */
export type WorkflowBackendConfig = InProcessBackendConfig | BullmqBackendConfig;

/** A URL with its password replaced, for messages and logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** The back-end configuration from the environment (PROMPTMANAGER_REDIS_URL), or undefined for the in-process default. */
export function backendFromEnv(env: (name: string) => string | undefined = (n) => process.env[n]): BullmqBackendConfig | undefined {
  const url = env(REDIS_URL_ENV)?.trim();
  return url ? { type: 'bullmq', connection: { url } } : undefined;
}
