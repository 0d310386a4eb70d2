// Helpers shared by the end-to-end test files (not a test file itself: run.mjs runs *.e2e.mjs):
//   - startModelServer: a small OpenAI-compatible model server on 127.0.0.1;
//   - pointProviderAt: points the examples' provider `local` at it (in the test's copy);
//   - serverPids: the PromptManager language server processes of a code-server;
//   - waitForToast: a notification on screen, with its action buttons.
//
// The model server records every request it receives (with its Authorization header), and
// answers as the test says:
//   mode 'ok'     200, a reply that starts with REPLY_MARKER and echoes the Authorization header
//                 (a careless client would print the key with it);
//   mode 'slow'   the same reply after `slowMs` (a run that lasts, to stop the language server under
//                 it), or when the test calls `answerPending()`;
//   mode 'fail'   `failStatus` (500 by default) with an error body and headers that echo the
//                 Authorization header.
//
//   const model = await startModelServer();
//   model.url                       http://127.0.0.1:PORT/v1 (the provider's base_url)
//   model.mode = 'fail'; model.requests (all received); model.pending (not answered yet);
//   model.answerPending() (answers the slow requests waiting, now)
//   await model.close();

import fs from 'node:fs';
import http from 'node:http';
import { waitFor } from './harness.mjs';

export const REPLY_MARKER = 'MODEL-REPLY-FROM-E2E-SERVER';

export async function startModelServer({ slowMs = 30_000, failStatus = 500 } = {}) {
  const state = { mode: 'ok', slowMs, failStatus, requests: [], pending: 0 };
  /** The slow requests waiting: their answer, by their timer. */
  const waiting = new Map();
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const auth = req.headers.authorization ?? '';
      const mode = state.mode;
      state.requests.push({ at: Date.now(), method: req.method, url: req.url, authorization: auth, mode, body });
      const reply = () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'e2e',
            object: 'chat.completion',
            choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: `${REPLY_MARKER}: thank you for your message. (Request authorised with "${auth}".)` } }],
          }),
        );
      };
      if (mode === 'fail') {
        res.writeHead(state.failStatus, { 'content-type': 'application/json', 'x-echo-authorization': auth, 'www-authenticate': `Bearer realm="e2e", error="${auth}"` });
        res.end(JSON.stringify({ error: { message: `upstream refused the request carrying authorization: ${auth}`, type: 'server_error', headers: req.headers } }));
      } else if (mode === 'slow') {
        state.pending++;
        const answer = () => {
          clearTimeout(timer);
          waiting.delete(timer);
          state.pending--;
          reply();
        };
        const timer = setTimeout(answer, state.slowMs);
        waiting.set(timer, answer);
        // The caller went away (its process was killed, or it aborted the call): nothing to answer.
        res.on('close', () => {
          if (!res.writableEnded && waiting.has(timer)) {
            clearTimeout(timer);
            waiting.delete(timer);
            state.pending--;
          }
        });
      } else reply();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
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
    get pending() {
      return state.pending;
    },
    answerPending() {
      for (const answer of [...waiting.values()]) answer();
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Points the examples' provider `local` at `baseUrl` in the copy's composition_rules.yaml
 * (the copy is the test's own; examples/ stays as it is). Throws when the file changed shape.
 */
export function pointProviderAt(rulesText, baseUrl) {
  const re = /^(\s+base_url: )http:\/\/127\.0\.0\.1:11434\/v1$/m;
  if (!re.test(rulesText)) throw new Error("composition_rules.yaml of the examples no longer has provider local's base_url http://127.0.0.1:11434/v1: update the test");
  return rulesText.replace(re, `$1${baseUrl}`);
}

/** Pids of this code-server's PromptManager language servers (dist/server.js under its extensions dir). */
export function serverPids(extensionsDir) {
  const out = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd = '';
    try {
      cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      continue;
    }
    if (cmd.includes(extensionsDir) && /dist[\\/]server\.js/.test(cmd) && cmd.includes('--node-ipc')) out.push(Number(d));
  }
  return out;
}

/**
 * The notification toast on screen whose message matches `re` (a Playwright locator), waiting
 * for it; its `buttons` are the labels of its action buttons. Errors with actions stay on
 * screen until dismissed; reading the notification center instead (harness `notifications(page,
 * { all: true })`) hides the toasts.
 */
export async function waitForToast(page, re, { timeoutMs = 30_000 } = {}) {
  const norm = (s) => s.replace(/\s+/g, ' ').trim();
  let seen = [];
  const item = await waitFor(
    async () => {
      const items = page.locator('.notifications-toasts .notification-list-item').filter({ visible: true });
      seen = [];
      for (let i = 0; i < (await items.count()); i++) {
        const it = items.nth(i);
        const msg = norm((await it.locator('.notification-list-item-message').textContent().catch(() => '')) ?? '');
        seen.push(msg);
        if (re.test(msg)) return { locator: it, message: msg };
      }
      return false;
    },
    { timeoutMs, intervalMs: 250, message: () => `a notification matching ${re}; the notifications on screen were: ${seen.join(' | ') || '(none)'}` },
  );
  const buttons = (await item.locator.locator('.notification-list-item-buttons-container .monaco-button').allTextContents()).map(norm).filter(Boolean);
  return { ...item, buttons, click: (label) => item.locator.locator('.notification-list-item-buttons-container .monaco-button', { hasText: label }).first().click() };
}
