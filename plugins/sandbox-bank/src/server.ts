/**
 * The sandbox bank as an HTTP server (node:http), so adapters meet real sockets, timeouts and refusals.
 *
 * Signed bank API (HMAC, see README):  /api/v1/...
 * Emulator-only endpoints (unsigned, for tests and operators): GET /health, GET /ledger, GET /payments/:reference,
 * POST /accounts, GET /accounts/:accountNumber, GET|POST /3ds/:reference (the buyer's challenge page).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyRequestSignature } from '@payhub/core';
import { SandboxBank, type ApiAnswer } from './bank';

/** Header names of the sandbox bank's request signature. */
export const SANDBOX_HEADERS = Object.freeze({
  merchantId: 'x-sandbox-merchant',
  keyId: 'x-sandbox-terminal',
  timestamp: 'x-sandbox-timestamp',
  signature: 'x-sandbox-signature',
});

/** Development terminal secret: fine on a laptop, refused nowhere, never use it for anything real. */
export const DEV_TERMINAL_SECRET = 'sandbox-terminal-secret-dev-only';

export interface SandboxBankServerOptions {
  port?: number;
  host?: string;
  /** Secret of every terminal not listed in `terminals`. */
  terminalSecret?: string;
  /** Per-terminal secrets (terminal id → secret). */
  terminals?: Record<string, string>;
  /** Public URL to put in challenge links (default: the listening address). */
  publicUrl?: string;
  /** How long the lost-answer card's response is held (ms, default 60000); the adapter gives up long before. */
  holdMs?: number;
  /** Artificial processing time inside the per-account lock (ms). */
  latencyMs?: number;
  /** Largest accepted clock distance of a signed request (s, default 300). */
  toleranceSec?: number;
  now?: () => Date;
}

const MAX_BODY = 64 * 1024;

export class SandboxBankServer {
  readonly bank: SandboxBank;
  private readonly server: http.Server;
  private readonly held = new Set<NodeJS.Timeout>();
  private baseUrl = '';
  private readonly now: () => Date;

  constructor(private readonly opts: SandboxBankServerOptions = {}) {
    this.now = opts.now ?? (() => new Date());
    this.bank = new SandboxBank({
      publicUrl: () => this.opts.publicUrl ?? this.baseUrl,
      now: this.now,
      ...(opts.latencyMs ? { latencyMs: opts.latencyMs } : {}),
    });
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) send(res, 500, { error: 'internal', message: 'internal error' });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 1000;
  }

  /** Base URL once listening, e.g. http://127.0.0.1:40123 */
  get url(): string {
    if (!this.baseUrl) throw new Error('sandbox bank is not listening');
    return this.baseUrl;
  }

  async start(): Promise<string> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port ?? 0, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const addr = this.server.address() as AddressInfo;
    const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.baseUrl = `http://${h === '0.0.0.0' ? '127.0.0.1' : h === '[::]' ? '[::1]' : h}:${addr.port}`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    for (const t of this.held) clearTimeout(t);
    this.held.clear();
    if (!this.server.listening) return;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await closed;
  }

  private secretFor(terminalId: string | undefined): string {
    return (terminalId && this.opts.terminals?.[terminalId]) || this.opts.terminalSecret || DEV_TERMINAL_SECRET;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const rawPath = req.url ?? '/';
    const url = new URL(rawPath, 'http://sandbox.invalid');
    const path = url.pathname;
    let raw: string;
    try {
      raw = await readBody(req);
    } catch {
      send(res, 413, { error: 'too_large', message: 'request body too large' });
      return;
    }

    if (path.startsWith('/api/')) {
      const terminalId = header(req, SANDBOX_HEADERS.keyId);
      const merchantId = header(req, SANDBOX_HEADERS.merchantId);
      const v = verifyRequestSignature(this.secretFor(terminalId), {
        method, path: rawPath, timestamp: header(req, SANDBOX_HEADERS.timestamp) ?? '', body: raw,
        signature: header(req, SANDBOX_HEADERS.signature),
      }, { now: this.now(), ...(this.opts.toleranceSec ? { toleranceSec: this.opts.toleranceSec } : {}) });
      if (!v.ok) {
        send(res, 401, { error: 'signature_refused', message: `request signature refused (${v.reason})` });
        return;
      }
      let body: unknown = null;
      if (raw !== '') {
        try {
          body = JSON.parse(raw);
        } catch {
          send(res, 400, { error: 'bad_json', message: 'body is not JSON' });
          return;
        }
      }
      const answer = await this.bank.handleApi({
        method, path: path.slice('/api'.length), body,
        ...(merchantId ? { merchantId } : {}), ...(terminalId ? { terminalId } : {}),
      });
      this.reply(req, res, answer);
      return;
    }

    const parts = path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
    if (method === 'GET' && path === '/health') return send(res, 200, { ok: true });
    if (method === 'GET' && path === '/ledger') return send(res, 200, { operations: this.bank.ledger() });
    if (method === 'GET' && parts[0] === 'payments' && parts.length === 2) {
      const p = this.bank.paymentDetails(parts[1]!);
      return p ? send(res, 200, p) : send(res, 404, { error: 'not_found', message: 'no such payment' });
    }
    if (method === 'POST' && path === '/accounts') {
      let body: unknown;
      try {
        body = JSON.parse(raw || 'null');
      } catch {
        return send(res, 400, { error: 'bad_json', message: 'body is not JSON' });
      }
      const a = await this.bank.admin(() => this.bank.putAccount(body), 201);
      return send(res, a.status, a.body);
    }
    if (method === 'GET' && parts[0] === 'accounts' && parts.length === 2) {
      const a = this.bank.getAccount(parts[1]!);
      return a ? send(res, 200, a) : send(res, 404, { error: 'not_found', message: 'no such account' });
    }
    if (parts[0] === '3ds' && parts.length === 2) {
      if (method === 'GET') return this.challengePage(res, parts[1]!);
      if (method === 'POST') return this.challengeSubmit(res, parts[1]!, raw);
    }
    send(res, 404, { error: 'not_found', message: 'no such endpoint' });
  }

  /** Sends an answer, or holds it (lost-answer card) until the client gives up or holdMs passes. */
  private reply(req: http.IncomingMessage, res: http.ServerResponse, answer: ApiAnswer): void {
    if (!answer.hold) {
      send(res, answer.status, answer.body);
      return;
    }
    const timer = setTimeout(() => {
      this.held.delete(timer);
      if (!res.destroyed) send(res, answer.status, answer.body);
    }, this.opts.holdMs ?? 60_000);
    this.held.add(timer);
    res.on('close', () => {
      clearTimeout(timer);
      this.held.delete(timer);
    });
    void req;
  }

  private challengePage(res: http.ServerResponse, ref: string): void {
    const info = this.bank.challengeInfo(ref);
    if (!info) return sendHtml(res, 404, page('Unknown payment', '<p>There is no 3-D Secure check for this payment.</p>'));
    const p = info.payment;
    const amount = `${p.amount} ${esc(p.currency)} (minor units)`;
    const card = p.source.type === 'card' ? esc(p.source.maskedPan) : esc(p.source.accountNumber);
    if (!info.open) {
      return sendHtml(res, 200, page('Check finished', `<p>This check is finished: <strong>${esc(p.status)}</strong>.</p>`));
    }
    sendHtml(res, 200, page('3-D Secure check', `
<p>Sandbox Bank asks you to confirm a payment of <strong>${amount}</strong> with card <strong>${card}</strong>.</p>
<p>Enter the one-time code (in the sandbox: <code>123456</code> approves, anything else declines).</p>
<form method="post" action="/3ds/${encodeURIComponent(ref)}">
  <label for="code">One-time code</label>
  <input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
  <button type="submit">Confirm</button>
</form>`));
  }

  private async challengeSubmit(res: http.ServerResponse, ref: string, raw: string): Promise<void> {
    const code = new URLSearchParams(raw).get('code') ?? '';
    const r = await this.bank.submitChallenge(ref, code.trim());
    if (!r) return sendHtml(res, 404, page('Unknown payment', '<p>There is no 3-D Secure check for this payment.</p>'));
    if (r.returnUrl) {
      res.writeHead(302, { location: r.returnUrl, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    sendHtml(res, 200, page('Check finished', `<p>This check is finished: <strong>${esc(r.payment.status)}</strong>. You may close this page.</p>`));
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('too large'));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendHtml(res: http.ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
  });
  res.end(html);
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · Sandbox Bank</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}label{display:block;margin:.5rem 0}input{font-size:1.2rem;padding:.3rem}button{margin-top:.8rem;font-size:1rem;padding:.4rem 1rem}</style>
</head><body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}
