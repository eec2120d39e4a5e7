/**
 * Small HTTP toolkit for the provider emulator: a server on 127.0.0.1, switches for tests,
 * signed deliveries to the hub recorded with the hub's answers, and a control API:
 *   GET    /_emulator                  → { provider, url, switches }
 *   PUT    /_emulator/switches         → replace the switches applied to every later payment (JSON)
 *   DELETE /_emulator/switches         → reset them
 *   GET    /_emulator/payments/:id     → one payment with its deliveries
 *   GET    /_emulator/deliveries       → every delivery so far
 * Per request, the buyer's Pay/Decline post may carry `emu_switches` (a JSON object) overriding them.
 * Exported from '@payhub/core' as `emulatorKit` for the emulators that provider plugins ship.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';

export const switchesSchema = z.strictObject({
  /** Flip one character of the signature. */
  corruptSignature: z.boolean().optional(),
  /** Amount sent instead of the real one (decimal string; signed like a real one). */
  amount: z.string().optional(),
  /** Currency sent instead of the real one (signed). */
  currency: z.string().optional(),
  /** Account sent instead of the real one: purse / receiver wallet / siteId. */
  account: z.string().optional(),
  /** Mode flag sent: WebMoney LMI_MODE, YooMoney test_notification. */
  mode: z.enum(['test', 'live']).optional(),
  /** Copies of the notification to send (1 by default). */
  times: z.number().int().min(1).max(50).optional(),
  /** Send the copies at once instead of one after another. */
  concurrent: z.boolean().optional(),
  /** Send an earlier-stage message after the final one. */
  outOfOrder: z.boolean().optional(),
  /** Wait this long before notifying (the buyer is answered at once). */
  delayMs: z.number().int().min(0).max(600_000).optional(),
  /** Never notify (the hub has to find out otherwise). */
  neverNotify: z.boolean().optional(),
});
export type Switches = z.infer<typeof switchesSchema>;

export interface Delivery {
  kind: string;
  url: string;
  status: number | null;
  body: string;
  error?: string;
  at: string;
}

export function corrupt(sig: string): string {
  if (!sig) return 'x';
  const i = Math.floor(sig.length / 2);
  const c = sig[i] === '0' ? '1' : '0';
  return sig.slice(0, i) + c + sig.slice(i + 1);
}

export async function readBody(req: http.IncomingMessage, limit = 1_000_000): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new Error('body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function send(res: http.ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', headers);
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}

/** A minimal accessible page with Pay / Decline buttons posting to `action`. */
export function buyerPage(title: string, lines: Array<[string, string]>, action: string): string {
  const rows = lines.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><main><h1>${escapeHtml(title)}</h1><p>Payment emulator: no real money moves.</p><table>${rows}</table>
<form method="post" action="${escapeHtml(action)}"><button name="action" value="pay">Pay</button>
<button name="action" value="decline">Decline</button></form></main></body></html>`;
}

export function messagePage(title: string, text: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>
<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p></main></body></html>`;
}

/** POSTs a message to the hub and records what it answered. */
export async function deliver(kind: string, url: string, body: string, headers: Record<string, string>, timeoutMs = 15000): Promise<Delivery> {
  const at = new Date().toISOString();
  try {
    const r = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    return { kind, url, status: r.status, body: (await r.text()).slice(0, 2000), at };
  } catch (e) {
    return { kind, url, status: null, body: '', error: (e as Error).message, at };
  }
}

/** Sends `times` copies, one after another or concurrently. */
export async function copies(sw: Switches, one: () => Promise<Delivery>): Promise<Delivery[]> {
  const n = sw.times ?? 1;
  if (sw.concurrent) return Promise.all(Array.from({ length: n }, () => one()));
  const out: Delivery[] = [];
  for (let i = 0; i < n; i++) out.push(await one());
  return out;
}

export function parseSwitches<S extends Switches = Switches>(raw: unknown, schema: z.ZodType<S> = switchesSchema as unknown as z.ZodType<S>): S {
  if (raw === undefined || raw === '') return {} as S;
  const value = typeof raw === 'string' ? JSON.parse(raw) : raw;
  return schema.parse(value);
}

export interface EmulatedPayment {
  id: string;
  status: string;
  deliveries: Delivery[];
  [k: string]: unknown;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string) => Promise<boolean>;

/** The server part shared by the three emulators. */
export class EmulatorServer<S extends Switches = Switches> {
  private server: http.Server | null = null;
  private base = '';
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Set<Promise<unknown>>();
  switches: S = {} as S;
  readonly payments = new Map<string, EmulatedPayment>();

  constructor(
    readonly provider: string,
    private readonly handler: Handler,
    private readonly schema: z.ZodType<S> = switchesSchema as unknown as z.ZodType<S>,
  ) {}

  get url(): string {
    if (!this.server) throw new Error(`${this.provider} emulator is not running`);
    return this.base;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = http.createServer((req, res) => {
      void this.dispatch(req, res).catch((e: unknown) => {
        if (!res.headersSent) send(res, 500, `emulator error: ${(e as Error).message}`);
        else res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const a = server.address() as AddressInfo;
    this.server = server;
    this.base = `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
    return this.base;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inflight]);
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections(); });
  }

  /** Runs `fn` now, or after delayMs (the caller does not wait then). */
  schedule(sw: Switches, fn: () => Promise<unknown>): Promise<void> {
    const run = () => {
      const p = fn().catch(() => undefined);
      this.inflight.add(p);
      void p.finally(() => this.inflight.delete(p));
      return p;
    };
    if (!sw.delayMs) return run().then(() => undefined);
    const t = setTimeout(() => { this.timers.delete(t); void run(); }, sw.delayMs);
    this.timers.add(t);
    return Promise.resolve();
  }

  /** Merges the standing switches with per-request ones. */
  effective(perRequest: unknown): S {
    return { ...this.switches, ...parseSwitches(perRequest, this.schema) };
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.local');
    const body = req.method === 'GET' || req.method === 'HEAD' ? '' : await readBody(req);
    const p = url.pathname;
    if (p === '/_emulator' && req.method === 'GET') return sendJson(res, 200, { provider: this.provider, url: this.base, switches: this.switches });
    if (p === '/_emulator/switches' && req.method === 'PUT') {
      try {
        this.switches = parseSwitches(body || '{}', this.schema);
      } catch (e) {
        return sendJson(res, 400, { error: 'invalid switches', detail: (e as Error).message });
      }
      return sendJson(res, 200, { switches: this.switches });
    }
    if (p === '/_emulator/switches' && req.method === 'DELETE') {
      this.switches = {} as S;
      return sendJson(res, 200, { switches: this.switches });
    }
    if (p === '/_emulator/deliveries' && req.method === 'GET') {
      return sendJson(res, 200, [...this.payments.values()].flatMap((x) => x.deliveries.map((d) => ({ payment: x.id, ...d }))));
    }
    const m = /^\/_emulator\/payments\/([^/]+)$/.exec(p);
    if (m && req.method === 'GET') {
      const pay = this.payments.get(decodeURIComponent(m[1]!));
      return pay ? sendJson(res, 200, pay) : sendJson(res, 404, { error: 'no such payment' });
    }
    if (!(await this.handler(req, res, url, body))) send(res, 404, 'not found');
  }
}

/** True when the client asked for JSON (tests) rather than a browser page. */
export function wantsJson(req: http.IncomingMessage): boolean {
  return /application\/json/.test(String(req.headers.accept ?? ''));
}

/* Helpers for the plugin side of an emulator: `payhub emulate <provider>` commands and the demo merchant. */

/** The value after `--name` in a command's arguments. */
export function argFlag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Resolves on SIGINT or SIGTERM: a standalone emulator runs until then. */
export function untilSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

/** Gives a payment method the demo merchant's settings (see PaymentMethod.demoSettings), e.g. its emulator's credentials. */
export function withDemoSettings<M extends object>(method: M, settings: () => Record<string, unknown> | null): M {
  return Object.assign(method, { demoSettings: settings });
}

/**
 * What every provider emulator exposes around its EmulatorServer: its address, listen and close, the fault switches
 * and the payments it keeps. A plugin's emulator extends it and answers the provider's endpoints in `route`.
 */
export abstract class ProviderEmulator<P, S extends Switches = Switches> {
  readonly server: EmulatorServer<S>;

  constructor(provider: string, schema?: z.ZodType<S>) {
    this.server = new EmulatorServer<S>(provider, (req, res, url, body) => this.route(req, res, url, body), schema);
  }

  /** Answers one request; false when the path is not one of the provider's. */
  protected abstract route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string): Promise<boolean>;

  get url(): string { return this.server.url; }
  listen(port = 0, host = '127.0.0.1'): Promise<string> { return this.server.listen(port, host); }
  close(): Promise<void> { return this.server.close(); }
  setSwitches(sw: S): void { this.server.switches = { ...sw }; }
  payment(id: string): P | undefined { return this.server.payments.get(id) as P | undefined; }
}

/**
 * The `emulator` option of a provider plugin: false (default), true, or where to listen plus the provider's own
 * fields (`shape`: its accounts, fees).
 */
export function emulatorOption<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.union([
    z.boolean(),
    z.object({ port: z.number().int().min(0).max(65535).default(0), host: z.string().default('127.0.0.1'), ...shape }),
  ]).default(false);
}
