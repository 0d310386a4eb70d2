/**
 * A redis-server of a test's own: on a free port, in a temporary folder, nothing saved
 * (`--save '' --appendonly no`), stopped (and its folder removed) by `stop()`. Where the
 * machine has no redis-server, `startRedis()` says why instead, and the Redis suites print that
 * they are skipped and why (`.ci/run` installs it, so CI always runs them).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface TestRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** The redis-server binary: REDIS_SERVER, else the first on PATH; undefined when there is none. */
export function redisServerBinary(): string | undefined {
  const given = process.env.REDIS_SERVER;
  if (given) return fs.existsSync(given) ? given : undefined;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'redis-server');
    if (dir && fs.existsSync(p)) return p;
  }
  for (const p of ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server']) if (fs.existsSync(p)) return p;
  return undefined;
}

/** Why the Redis suites cannot run here, or undefined when they can. */
export function redisMissingReason(): string | undefined {
  const bin = redisServerBinary();
  if (!bin) return 'redis-server is not installed (apt-get install -y redis-server; .ci/run installs it)';
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return `${bin} --version failed: ${r.stderr || r.error?.message}`;
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    sock.setTimeout(1000, () => {
      sock.destroy();
      resolve(false);
    });
    sock.on('error', () => resolve(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) {
        sock.destroy();
        resolve(buf.startsWith('+PONG'));
      }
    });
  });
}

export async function startRedis(): Promise<TestRedis> {
  const bin = redisServerBinary();
  if (!bin) throw new Error(redisMissingReason());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pm-redis-'));
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let exited = false;
    child.on('exit', () => (exited = true));
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d.toString()));
    const deadline = Date.now() + 15_000;
    while (!exited && Date.now() < deadline && !(await ping(port))) await new Promise((r) => setTimeout(r, 50));
    if (!exited && (await ping(port))) {
      return {
        url: `redis://127.0.0.1:${port}`,
        port,
        process: child,
        stop: () =>
          new Promise<void>((resolve) => {
            const done = () => {
              fs.rmSync(dir, { recursive: true, force: true });
              resolve();
            };
            if (exited) return done();
            child.once('exit', done);
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      };
    }
    child.kill('SIGKILL');
    // Another process took the port between our check and the server's bind: try another.
    if (tries >= 3) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server did not start on port ${port}: ${stderr.trim()}`);
    }
  }
}
