import net from 'node:net';
import { signRequest } from '@payhub/core';
import { SandboxBankAdapter, type SandboxBankAdapterOptions } from '../src/adapter';
import { SandboxBankServer, SANDBOX_HEADERS, DEV_TERMINAL_SECRET, type SandboxBankServerOptions } from '../src/server';

export const FUTURE_YEAR = new Date().getUTCFullYear() + 2;

export function card(number: string, expMonth = 12, expYear = FUTURE_YEAR) {
  return { type: 'card' as const, number, expMonth, expYear, cvc: '123' };
}

export const rub = (amount: number) => ({ amount, currency: 'RUB' });

let n = 0;
/** Unique reference per call (our attempt ids look like this). */
export function ref(prefix = 'att'): string {
  n++;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${n}`;
}

export interface Emulator {
  server: SandboxBankServer;
  url: string;
  adapter(over?: Partial<SandboxBankAdapterOptions>): SandboxBankAdapter;
  close(): Promise<void>;
}

/** Starts an emulator on 127.0.0.1, port 0. */
export async function startEmulator(opts: SandboxBankServerOptions = {}): Promise<Emulator> {
  const server = new SandboxBankServer({ holdMs: 10_000, ...opts });
  const url = await server.start();
  return {
    server,
    url,
    adapter: (over = {}) => new SandboxBankAdapter({
      url: () => url, timeoutMs: 3000, merchantId: 'm1', terminalId: 't1',
      terminalSecret: opts.terminalSecret ?? DEV_TERMINAL_SECRET, transport: 'http', bank: () => server.bank, ...over,
    }),
    close: () => server.close(),
  };
}

/** A port on 127.0.0.1 with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Sends a request to the bank API signed with `secret` (or unsigned when secret is null). */
export async function signedFetch(url: string, method: string, path: string, body: unknown, secret: string | null, opts: { timestamp?: number; terminalId?: string } = {}) {
  const raw = body === undefined ? '' : JSON.stringify(body);
  const timestamp = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = { 'content-type': 'application/json', [SANDBOX_HEADERS.merchantId]: 'm1', [SANDBOX_HEADERS.keyId]: opts.terminalId ?? 't1' };
  if (secret !== null) {
    headers[SANDBOX_HEADERS.timestamp] = timestamp;
    headers[SANDBOX_HEADERS.signature] = signRequest(secret, { method, path, timestamp, body: raw });
  }
  const res = await fetch(url + path, { method, headers, ...(raw ? { body: raw } : {}) });
  return { status: res.status, body: await res.json() as Record<string, unknown> };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}
