/**
 * A bare JSON-RPC client over stdio for the lifecycle tests: it frames and reads messages
 * itself and sends whatever it is told, in the order told, with no library in between that
 * could keep the protocol for the server (as vscode-languageserver-protocol's connection does
 * for a client). It answers the server's own requests with null.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SERVER } from '../helpers/paths.js';

export interface RpcMessage {
  jsonrpc: '2.0';
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export class RawRpc {
  readonly child: ChildProcess;
  readonly received: RpcMessage[] = [];
  stderr = '';
  exitCode: number | null | undefined;
  private buffer = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private readonly exited: Promise<number | null>;

  constructor(args: string[] = ['--stdio']) {
    this.child = spawn(process.execPath, [SERVER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr!.on('data', (d) => (this.stderr += String(d)));
    this.child.stdout!.on('data', (d: Buffer) => this.read(d));
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        this.exitCode = code;
        resolve(code);
        this.poke();
      }),
    );
    // A server that exits first closes the pipe: writes then fail, which the tests see as the exit.
    this.child.stdin!.on('error', () => {});
  }

  private read(d: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, d]);
    for (;;) {
      const head = this.buffer.indexOf('\r\n\r\n');
      if (head < 0) return;
      const length = Number(/Content-Length: *(\d+)/i.exec(this.buffer.subarray(0, head).toString('ascii'))?.[1]);
      if (this.buffer.length < head + 4 + length) return;
      const msg = JSON.parse(this.buffer.subarray(head + 4, head + 4 + length).toString('utf8')) as RpcMessage;
      this.buffer = this.buffer.subarray(head + 4 + length);
      if (msg.method !== undefined && msg.id !== undefined) this.send({ jsonrpc: '2.0', id: msg.id, result: null });
      this.received.push(msg);
      this.poke();
    }
  }

  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(msg: RpcMessage): void {
    const body = Buffer.from(JSON.stringify(msg), 'utf8');
    this.child.stdin!.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]));
  }

  request(id: number, method: string, params?: unknown): void {
    this.send({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
  }

  notify(method: string, params?: unknown): void {
    this.send({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });
  }

  /** Resolves with the first message received that satisfies `pred`; fails after `ms`. */
  async until(pred: (m: RpcMessage) => boolean, ms = 15000, what = 'a message'): Promise<RpcMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.received.find(pred);
      if (m) return m;
      if (this.exitCode !== undefined) throw new Error(`the server exited (${this.exitCode}) before ${what}\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  /** The answer to request `id`. */
  response(id: number, ms?: number): Promise<RpcMessage> {
    return this.until((m) => m.id === id && m.method === undefined, ms, `the answer to request ${id}`);
  }

  /** The exit code, or undefined when the process is still running after `ms`. */
  async exit(ms = 10000): Promise<number | null | undefined> {
    let cancel = () => {};
    const late = new Promise<undefined>((r) => {
      const t = setTimeout(r, ms);
      cancel = () => clearTimeout(t);
    });
    try {
      return await Promise.race([this.exited, late]);
    } finally {
      cancel();
    }
  }

  kill(): void {
    if (this.exitCode === undefined) this.child.kill();
  }
}
