import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CreditOutcome, CreditRequest, TopupOperator } from './operator';

/**
 * The sandbox operator's emulator: a real HTTP server on loopback.
 *   POST /credit {reference, msisdn, amount, currency} → {state: 'processed'|'declined', operator_ref?, reason?}
 *     numbers ending 9999 are declined; numbers ending 0000 are credited but the answer never comes (a time-out);
 *     a repeated reference answers the stored result and credits nothing more.
 *   GET /status?reference=… → {state} (404 {state:'not_found'} when never received)
 *   GET /credits → {credits: [...], calls: {reference: number of POST /credit}}
 */
export class OperatorEmulator {
  private server: http.Server | null = null;
  readonly credits = new Map<string, { reference: string; msisdn: string; amount: number; currency: string; state: 'processed' | 'declined'; operator_ref: string }>();
  readonly calls = new Map<string, number>();
  private seq = 0;

  async start(port = 0): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (req.method === 'GET' && url.pathname === '/credits') {
      return this.send(res, 200, { credits: [...this.credits.values()], calls: Object.fromEntries(this.calls) });
    }
    if (req.method === 'GET' && url.pathname === '/status') {
      const c = this.credits.get(url.searchParams.get('reference') ?? '');
      return c ? this.send(res, 200, { state: c.state, operator_ref: c.operator_ref }) : this.send(res, 404, { state: 'not_found' });
    }
    if (req.method === 'POST' && url.pathname === '/credit') {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      let b: Record<string, unknown>;
      try {
        b = JSON.parse(raw);
      } catch {
        return this.send(res, 400, { error: 'bad_json' });
      }
      const reference = String(b.reference ?? '');
      const msisdn = String(b.msisdn ?? '');
      const amount = Number(b.amount);
      if (!reference || !/^\+\d{8,15}$/.test(msisdn) || !Number.isSafeInteger(amount) || amount <= 0) return this.send(res, 400, { error: 'bad_request' });
      this.calls.set(reference, (this.calls.get(reference) ?? 0) + 1);
      let c = this.credits.get(reference);
      if (!c) {
        c = {
          reference, msisdn, amount, currency: String(b.currency ?? ''), state: msisdn.endsWith('9999') ? 'declined' : 'processed',
          operator_ref: `op_${++this.seq}`,
        };
        this.credits.set(reference, c);
        // The credit is made, but the answer is lost: the client times out.
        if (msisdn.endsWith('0000')) return;
      }
      return this.send(res, 200, c.state === 'declined' ? { state: 'declined', reason: 'subscriber_blocked' } : { state: 'processed', operator_ref: c.operator_ref });
    }
    this.send(res, 404, { error: 'not_found' });
  }
}

/** The sandbox operator adapter: speaks to the emulator (or any server with its API) over HTTP. */
export class SandboxOperator implements TopupOperator {
  readonly id = 'sandbox-operator';
  readonly displayName = 'Sandbox Mobile';
  readonly currencies = ['RUB'] as const;

  constructor(readonly prefixes: readonly string[], private readonly baseUrl: () => string | null, private readonly timeoutMs: number) {}

  /** The emulator's (or server's) base URL, once known. */
  endpoint(): string | null {
    return this.baseUrl();
  }

  private async call(path: string, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> } | CreditOutcome> {
    const base = this.baseUrl();
    if (!base) return { kind: 'not_sent', reason: 'the sandbox operator has no address' };
    let res: Response;
    try {
      res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const err = e as { name?: string; cause?: { code?: string } };
      if (err.cause?.code === 'ECONNREFUSED') return { kind: 'not_sent', reason: 'operator unreachable' };
      return { kind: 'unknown', reason: err.name === 'TimeoutError' ? 'timeout' : 'network error' };
    }
    try {
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    } catch {
      return { kind: 'unknown', reason: 'unreadable answer' };
    }
  }

  private outcome(r: { status: number; body: Record<string, unknown> }): CreditOutcome {
    const s = r.body.state;
    if (s === 'processed') return { kind: 'processed', operatorRef: typeof r.body.operator_ref === 'string' ? r.body.operator_ref : undefined };
    if (s === 'declined') return { kind: 'declined', reason: typeof r.body.reason === 'string' ? r.body.reason : 'declined' };
    if (s === 'not_found') return { kind: 'not_sent', reason: 'not received by the operator' };
    if (r.status === 400) return { kind: 'declined', reason: 'bad_request' };
    return { kind: 'unknown', reason: `operator answered ${r.status}` };
  }

  async credit(req: CreditRequest): Promise<CreditOutcome> {
    const r = await this.call('/credit', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ reference: req.reference, msisdn: req.msisdn, amount: req.amount, currency: req.currency }),
    });
    return 'kind' in r ? r : this.outcome(r);
  }

  async status(reference: string): Promise<CreditOutcome> {
    const r = await this.call(`/status?reference=${encodeURIComponent(reference)}`, { method: 'GET' });
    if ('kind' in r) return r.kind === 'not_sent' ? { kind: 'unknown', reason: r.reason } : r;
    return this.outcome(r);
  }
}
