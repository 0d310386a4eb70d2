/**
 * The lazy loading of BullMQ and ioredis, and our Redis connections: they are never bundled
 * (BullMQ reads its Lua scripts from its package at run time) and never loaded unless the BullMQ
 * back end is chosen, so the in-process default needs neither Redis nor them.
 */
import type * as BullMQ from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { PromptError } from '../errors.js';
import { redactRedisUrl, type RedisConnectionOptions } from './connection.js';

export type BullmqModule = typeof BullMQ;
type RedisClass = typeof import('ioredis').Redis;

let bullmq: Promise<BullmqModule> | undefined;
let ioredis: Promise<RedisClass> | undefined;

function missing(pkg: string, e: unknown): PromptError {
  return new PromptError(
    'invalid_configuration',
    `the BullMQ workflow back end needs the npm package "${pkg}", which could not be loaded (${e instanceof Error ? e.message : String(e)}); install it beside promptmanager (npm install bullmq ioredis)`,
  );
}

/** BullMQ, loaded on first use. */
export function loadBullmq(): Promise<BullmqModule> {
  bullmq ??= import('bullmq').catch((e: unknown) => {
    bullmq = undefined;
    throw missing('bullmq', e);
  });
  return bullmq;
}

function loadIORedis(): Promise<RedisClass> {
  ioredis ??= import('ioredis').then((m) => m.Redis).catch((e: unknown) => {
    ioredis = undefined;
    throw missing('ioredis', e);
  });
  return ioredis;
}

/**
 * A new ioredis client. BullMQ's blocking connections need `maxRetriesPerRequest: null`; the
 * same setting suits ours (a command waits for a reconnect rather than failing a run).
 */
export async function connectRedis(conn: RedisConnectionOptions, extra: RedisOptions = {}): Promise<Redis> {
  const Ctor = (await loadIORedis()) as unknown as new (...args: unknown[]) => Redis;
  const options: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: true, ...conn.options, ...extra };
  const client = conn.url ? new Ctor(conn.url, options) : new Ctor(options);
  // A client whose server went away reconnects on its own; errors are reported by the calls that
  // fail (and a failed connect by the message below, not by ioredis's "Unhandled error event").
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    client.disconnect();
    const where = conn.url ? redactRedisUrl(conn.url) : `${options.host ?? '127.0.0.1'}:${options.port ?? 6379}`;
    throw new PromptError('invalid_configuration', `cannot connect to Redis at ${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return client;
}

