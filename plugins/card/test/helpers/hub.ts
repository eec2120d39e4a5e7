import path from 'node:path';
import { TOKENS, createTestHub, definePlugin } from '@payhub/core';
import type { BankAdapter, BankResult, BinInfo, PayhubPlugin } from '@payhub/core';
import { allCellText, findLeaks } from './db';

export const ROOT = path.resolve(__dirname, '../../../../..');
export const SANDBOX = path.resolve(ROOT, 'plugins/sandbox-bank');
export const CARD = path.resolve(ROOT, 'plugins/card');

export type Hub = Awaited<ReturnType<typeof createTestHub>>;

/**
 * A bank adapter 'spy-bank' that records every call and hands it to the real sandbox-bank adapter.
 * Merchants created with bankAdapter 'spy-bank' go through it, so a test can assert that the bank was (not) called.
 */
export class SpyBank implements BankAdapter {
  readonly id = 'spy-bank';
  readonly displayName = 'Spy over Sandbox Bank';
  readonly calls: Array<{ op: string; reference?: string; capture?: boolean; amount?: number; source?: string; returnUrl?: string }> = [];
  constructor(private readonly real: () => BankAdapter) {}
  binLookup(bin: string): Promise<BinInfo | null> {
    this.calls.push({ op: 'binLookup' });
    return this.real().binLookup(bin);
  }
  authorize(req: Parameters<BankAdapter['authorize']>[0]): Promise<BankResult> {
    this.calls.push({ op: 'authorize', reference: req.reference, capture: req.capture, amount: req.amount.amount, source: req.source.type, returnUrl: req.returnUrl });
    return this.real().authorize(req);
  }
  completeChallenge(req: Parameters<NonNullable<BankAdapter['completeChallenge']>>[0]): Promise<BankResult> {
    this.calls.push({ op: 'completeChallenge', reference: req.reference });
    return this.real().completeChallenge!(req);
  }
  capture(req: Parameters<BankAdapter['capture']>[0]): Promise<BankResult> {
    this.calls.push({ op: 'capture', reference: req.reference, amount: req.amount.amount });
    return this.real().capture(req);
  }
  void(req: Parameters<BankAdapter['void']>[0]): Promise<BankResult> {
    this.calls.push({ op: 'void', reference: req.reference });
    return this.real().void(req);
  }
  refund(req: Parameters<BankAdapter['refund']>[0]): Promise<BankResult> {
    this.calls.push({ op: 'refund', reference: req.reference, amount: req.amount.amount });
    return this.real().refund(req);
  }
  status(req: Parameters<BankAdapter['status']>[0]): Promise<BankResult> {
    this.calls.push({ op: 'status', reference: req.reference });
    return this.real().status(req);
  }
  bankOps(): string[] {
    return this.calls.filter((c) => c.op !== 'binLookup').map((c) => c.op);
  }
}

export async function startHub(): Promise<{ hub: Hub; spy: SpyBank }> {
  return startHubWith();
}

/** A hub with config overrides, optionally over an existing database (a restart). */
export async function startHubWith(config?: Record<string, unknown>, databaseUrl?: string): Promise<{ hub: Hub; spy: SpyBank }> {
  let spy: SpyBank | undefined;
  const spyPlugin: PayhubPlugin<unknown> = definePlugin<unknown>({
    name: 'spy-bank',
    version: '1.0.0',
    core: '^1.0.0',
    kind: 'bank-adapter',
    register(ctx) {
      ctx.provide<BankAdapter>(TOKENS.BankAdapter, {
        useFactory: (c) => (spy = new SpyBank(() => c.resolveAll<BankAdapter>(TOKENS.BankAdapter).find((a) => a.id === 'sandbox-bank')!)),
      });
    },
  });
  const hub = await createTestHub({
    plugins: [{ resolve: SANDBOX }, { resolve: CARD }], inlinePlugins: [spyPlugin],
    ...(config ? { config } : {}), ...(databaseUrl ? { databaseUrl } : {}),
  });
  // Instantiate the spy now so the test holds the same object the card method will use.
  hub.container.resolveAll<BankAdapter>(TOKENS.BankAdapter);
  if (!spy) throw new Error('spy bank not registered');
  return { hub, spy };
}

let orderSeq = 0;

export async function newOrder(hub: Hub, key: string, opts: { amount?: number; capture?: 'automatic' | 'manual'; currency?: string } = {}) {
  const r = await hub.api('POST', '/v1/orders', {
    key,
    body: {
      order_number: `card-${process.pid}-${++orderSeq}-${Date.now()}`,
      amount: opts.amount ?? 125_00,
      currency: opts.currency ?? 'RUB',
      description: 'Card test order',
      capture: opts.capture ?? 'automatic',
    },
  });
  if (r.status !== 201) throw new Error(`order not created: ${r.status} ${r.text}`);
  return r.body as { id: string; status: string; amount: number };
}

export async function pay(hub: Hub, key: string, orderId: string, body: Record<string, unknown>) {
  return hub.api('POST', `/v1/orders/${orderId}/payments`, { key, body: { method: 'card', ...body } });
}

export function card(number: string, cvc: string, extra: Record<string, unknown> = {}) {
  return { number, exp_month: 12, exp_year: 2031, cvc, holder: 'IVAN PETROV', ...extra };
}

export async function attemptsOf(hub: Hub, orderId: string): Promise<number> {
  const r = await hub.db('payment_attempts').where({ order_id: orderId }).count({ n: '*' });
  return Number(r[0]!.n);
}

/**
 * Scans every column of every table and every log line for the card numbers (plain or grouped) and the CVCs.
 * Returns the findings (empty when clean).
 */
export async function leaks(hub: Hub, pans: string[], cvcs: string[]): Promise<string[]> {
  const cells = await allCellText(hub.db, hub.kind);
  const found = findLeaks(cells, pans, cvcs);
  for (const [i, line] of hub.logs.entries()) {
    const digits = line.replace(/[\s-]/g, '');
    for (const pan of pans) if (digits.includes(pan)) found.push(`log line ${i} holds a card number`);
    if (/"(cvc|cvv|cvv2|cvp2)"\s*:\s*"?\d/i.test(line)) found.push(`log line ${i} holds a CVC field`);
  }
  return found;
}
