/**
 * A small OpenAI-compatible server on 127.0.0.1 for the demo, so that model steps run with no
 * network: it answers chat completions with a canned reply, or fails every request with 503
 * to show retries and fallbacks.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoModelServer {
  url: string;
  mode: 'healthy' | 'down';
  requests: number;
  close(): Promise<void>;
}

export async function startDemoModelServer(): Promise<DemoModelServer> {
  const state: { mode: 'healthy' | 'down'; requests: number } = { mode: 'healthy', requests: 0 };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      state.requests++;
      if (state.mode === 'down') {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'the demo model is down (503)' } }));
        return;
      }
      let prompt = '';
      try {
        const parsed = JSON.parse(body) as { messages?: { content?: string }[] };
        prompt = parsed.messages?.map((m) => m.content ?? '').join('\n') ?? '';
      } catch {
        // The reply below says what the model saw; a bad body is the client's bug to find.
      }
      const words = prompt.split(/\s+/).filter(Boolean).length;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'demo',
          object: 'chat.completion',
          choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `Thank you for your message. (Demo model reply to a ${words}-word prompt.)` } }],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get mode() {
      return state.mode;
    },
    set mode(m) {
      state.mode = m;
    },
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
