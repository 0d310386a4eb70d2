/**
 * The LSP lifecycle, kept for every message before any handler sees it (vscode-languageserver
 * leaves it to the server):
 * - before `initialize`, a request gets ServerNotInitialized (-32002) and a notification is
 *   dropped, except `exit`;
 * - `initialize` is answered once: a second one gets InvalidRequest and changes nothing (it
 *   would start the server's core a second time, whose requests then wait forever for an
 *   `initialized` that never comes); a second `initialized` is dropped;
 * - after `shutdown`, a request (a second `shutdown` too) gets InvalidRequest (-32600) and a
 *   notification is dropped, except `exit`. `exit` ends the process with 0 after `shutdown`,
 *   1 otherwise (the library does that).
 *
 * It is a message strategy of the connection (main.ts), which sees each message in the order
 * received. The connection cannot be asked to answer a message itself, so a refused request is
 * passed on as a request of REFUSED_METHOD, whose handler (registered by main.ts) answers it
 * with the error: the client gets the error under its own request id.
 */
import type { Message, MessageStrategy } from 'vscode-languageserver/node';

/** Handled by main.ts with `refusal()`; never sent by a client (one that does gets MethodNotFound). */
export const REFUSED_METHOD = '$/promptManager/refusedByLifecycle';

/** JSON-RPC and LSP error codes (the library's ErrorCodes, without loading it here). */
export const SERVER_NOT_INITIALIZED = -32002;
export const INVALID_REQUEST = -32600;
const METHOD_NOT_FOUND = -32601;

export type LifecyclePhase = 'new' | 'initialized' | 'shutdown';

interface Refusal {
  code: number;
  message: string;
}

interface Incoming {
  id?: number | string | null;
  method?: string;
  params?: unknown;
}

export class LifecycleGate {
  private current: LifecyclePhase = 'new';
  private initializedSeen = false;
  /** The params objects this gate made: only these are answered as refusals. */
  private readonly issued = new WeakSet<object>();

  get phase(): LifecyclePhase {
    return this.current;
  }

  readonly messageStrategy: MessageStrategy = {
    handleMessage: (message: Message, next: (message: Message) => void) => {
      const m = message as Incoming;
      if (typeof m.method !== 'string') return next(message); // a response to one of our requests
      if (m.id !== undefined) {
        const refused = this.request(m.method);
        if (!refused) return next(message);
        this.issued.add(refused);
        return next({ jsonrpc: '2.0', id: m.id, method: REFUSED_METHOD, params: refused } as Message);
      }
      if (this.notification(m.method)) next(message);
    },
  };

  /** The answer to a REFUSED_METHOD request: the refusal's error, or MethodNotFound for one the gate did not make. */
  refusal(params: unknown): Refusal {
    if (params && typeof params === 'object' && this.issued.has(params)) return params as Refusal;
    return { code: METHOD_NOT_FOUND, message: `Unhandled method ${REFUSED_METHOD}` };
  }

  /** Undefined to let the request through, else why it is refused. */
  private request(method: string): Refusal | undefined {
    switch (this.current) {
      case 'new':
        if (method === 'initialize') {
          this.current = 'initialized';
          return undefined;
        }
        return { code: SERVER_NOT_INITIALIZED, message: `the server is not initialized: send 'initialize' before '${method}'` };
      case 'initialized':
        if (method === 'initialize') return { code: INVALID_REQUEST, message: "the server is already initialized: 'initialize' may be sent only once" };
        if (method === 'shutdown') this.current = 'shutdown';
        return undefined;
      case 'shutdown':
        return { code: INVALID_REQUEST, message: `the server is shutting down: after 'shutdown' only the 'exit' notification is accepted (got '${method}')` };
    }
  }

  /** Whether a notification goes on to its handler. */
  private notification(method: string): boolean {
    if (method === 'exit') return true;
    if (this.current !== 'initialized') return false;
    if (method === 'initialized') {
      if (this.initializedSeen) return false;
      this.initializedSeen = true;
    }
    return true;
  }
}
