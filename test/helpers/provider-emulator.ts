import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { definePlugin, TOKENS, type MethodOutcome, type PaymentMethod } from '@payhub/core';

/**
 * A provider emulator over HTTP on 127.0.0.1: charges are keyed by the caller's Idempotency-Key (the hub's attempt
 * id), so a repeated call never charges twice. `slowMs` makes the next answers arrive late (after the charge is
 * recorded), which is how a provider that "times out after charging" looks to the hub.
 */
export interface ProviderEmulator {
  readonly url: string;
  /** Charges by idempotency key. */
  readonly charges: Map<string, { amount: number; status: 'authorized' | 'captured'; requests: number; captures: number }>;
  /** Every request as "METHOD path". */
  readonly log: string[];
  slowMs: number;
  close(): Promise<void>;
}

export async function startProviderEmulator(): Promise<ProviderEmulator> {
  const charges: ProviderEmulator['charges'] = new Map();
  const log: string[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const state = { slowMs: 0 };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      log.push(`${req.method} ${req.url}`);
      const send = (status: number, body: unknown) => {
        const out = () => {
          if (res.destroyed) return;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        };
        if (state.slowMs > 0) setTimeout(out, state.slowMs).unref();
        else out();
      };
      const m = /^\/charges\/([A-Za-z0-9_]+)$/.exec(req.url ?? '');
      if (req.method === 'POST' && req.url === '/charges') {
        const key = String(req.headers['idempotency-key'] ?? '');
        const b = JSON.parse(raw || '{}') as { amount: number; capture: boolean };
        const c = charges.get(key) ?? { amount: b.amount, status: b.capture ? 'captured' as const : 'authorized' as const, requests: 0, captures: 0 };
        c.requests++;
        charges.set(key, c);
        return send(200, { id: `ch_${key}`, status: c.status });
      }
      const cap = /^\/charges\/([A-Za-z0-9_]+)\/capture$/.exec(req.url ?? '');
      if (req.method === 'POST' && cap) {
        const c = charges.get(cap[1]!);
        if (!c) return send(404, { error: 'no_such_charge' });
        c.captures++;
        c.status = 'captured';
        return send(200, { id: `ch_${cap[1]}`, status: c.status });
      }
      if (req.method === 'GET' && m) {
        const c = charges.get(m[1]!);
        return c ? send(200, { id: `ch_${m[1]}`, status: c.status }) : send(404, { error: 'no_such_charge' });
      }
      send(404, { error: 'not_found' });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    charges,
    log,
    get slowMs() {
      return state.slowMs;
    },
    set slowMs(v: number) {
      state.slowMs = v;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Method `emu`: charges through the emulator with the attempt id as idempotency key and a short client timeout;
 * status() asks the emulator. `afterAnswer` runs once the provider has answered start() (crash tests kill the
 * process there).
 */
export function emulatorMethodPlugin(providerUrl: string, opts: { timeoutMs?: number; afterAnswer?: (op: 'start' | 'capture') => void } = {}) {
  // The client timeout of start() (a test makes it short to see a timeout); status and capture get a loaded
  // machine's margin so that only the scripted timeout happens.
  const timeoutMs = opts.timeoutMs ?? 5000;
  const pollTimeoutMs = Math.max(timeoutMs, 5000);
  const method: PaymentMethod<Record<string, never>> = {
    id: 'emu',
    displayName: { en: 'Emulated provider' },
    supports: { capture: true, partialCapture: false, cancel: false, refund: false },
    async prepare() {
      return { methodData: {}, payload: {} };
    },
    async start(ctx): Promise<MethodOutcome> {
      const res = await fetch(`${providerUrl}/charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey },
        body: JSON.stringify({ amount: ctx.order.amount, currency: ctx.order.currency, capture: ctx.order.captureMode === 'automatic' }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const b = (await res.json()) as { id: string; status: 'authorized' | 'captured' };
      opts.afterAnswer?.('start');
      return { kind: 'processed', status: b.status, providerRef: b.id };
    },
    async capture(ctx): Promise<MethodOutcome> {
      const res = await fetch(`${providerUrl}/charges/${ctx.idempotencyKey}/capture`, { method: 'POST', signal: AbortSignal.timeout(pollTimeoutMs) });
      const b = (await res.json()) as { id: string; status: 'authorized' | 'captured' };
      opts.afterAnswer?.('capture');
      return { kind: 'processed', status: b.status, providerRef: b.id };
    },
    async status(ctx): Promise<MethodOutcome> {
      const res = await fetch(`${providerUrl}/charges/${ctx.idempotencyKey}`, { signal: AbortSignal.timeout(pollTimeoutMs) });
      if (res.status === 404) return { kind: 'declined', reason: 'provider_has_no_charge' };
      const b = (await res.json()) as { id: string; status: 'authorized' | 'captured' };
      return { kind: 'processed', status: b.status, providerRef: b.id };
    },
  };
  return definePlugin({
    name: 'emulator-method', version: '1.0.0', core: '^1.0.0', kind: 'payment-method',
    register(ctx) {
      ctx.provide(TOKENS.PaymentMethod, { useValue: method as PaymentMethod });
    },
  });
}
