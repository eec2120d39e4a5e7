import path from 'node:path';
import { TOKENS, createTestHub, definePlugin } from '@payhub/core';
import type { BankAdapter, BankResult, BinInfo, PayhubPlugin } from '@payhub/core';

// From dist/test: plugins/transaction-control/dist/test → repository root.
export const ROOT = path.resolve(__dirname, '../../../..');
export const SELF = path.resolve(ROOT, 'plugins/transaction-control');
export const SANDBOX = path.resolve(ROOT, 'plugins/sandbox-bank');
export const CARD = path.resolve(ROOT, 'plugins/card');

export type Hub = Awaited<ReturnType<typeof createTestHub>>;

/** A bank adapter 'spy-bank' that records every call and hands it to the real sandbox-bank adapter. */
export class SpyBank implements BankAdapter {
  readonly id = 'spy-bank';
  readonly displayName = 'Spy over Sandbox Bank';
  readonly calls: Array<{ op: string; reference?: string }> = [];
  constructor(private readonly real: () => BankAdapter) {}
  binLookup(bin: string): Promise<BinInfo | null> { return this.real().binLookup(bin); }
  authorize(req: Parameters<BankAdapter['authorize']>[0]): Promise<BankResult> {
    this.calls.push({ op: 'authorize', reference: req.reference });
    return this.real().authorize(req);
  }
  completeChallenge(req: Parameters<NonNullable<BankAdapter['completeChallenge']>>[0]): Promise<BankResult> {
    return this.real().completeChallenge!(req);
  }
  capture(req: Parameters<BankAdapter['capture']>[0]): Promise<BankResult> {
    this.calls.push({ op: 'capture', reference: req.reference });
    return this.real().capture(req);
  }
  void(req: Parameters<BankAdapter['void']>[0]): Promise<BankResult> {
    this.calls.push({ op: 'void', reference: req.reference });
    return this.real().void(req);
  }
  refund(req: Parameters<BankAdapter['refund']>[0]): Promise<BankResult> { return this.real().refund(req); }
  status(req: Parameters<BankAdapter['status']>[0]): Promise<BankResult> { return this.real().status(req); }
  /** References (attempt ids) the bank was asked to authorize. */
  authorized(): string[] { return this.calls.filter((c) => c.op === 'authorize').map((c) => c.reference!); }
}

export async function startHub(): Promise<{ hub: Hub; spy: SpyBank; m: Awaited<ReturnType<Hub['createMerchant']>> }> {
  let spy: SpyBank | undefined;
  const spyPlugin: PayhubPlugin<unknown> = definePlugin<unknown>({
    name: 'spy-bank', version: '1.0.0', core: '^1.0.0', kind: 'bank-adapter',
    register(ctx) {
      ctx.provide<BankAdapter>(TOKENS.BankAdapter, {
        useFactory: (c) => (spy = new SpyBank(() => c.resolveAll<BankAdapter>(TOKENS.BankAdapter).find((a) => a.id === 'sandbox-bank')!)),
      });
    },
  });
  // The tests give each buyer an IP through X-Forwarded-For, as a trusted reverse proxy would.
  const hub = await createTestHub({ plugins: [{ resolve: SANDBOX }, { resolve: CARD }, { resolve: SELF }], inlinePlugins: [spyPlugin], config: { http: { trustProxy: true } } });
  hub.container.resolveAll<BankAdapter>(TOKENS.BankAdapter);
  if (!spy) throw new Error('spy bank not registered');
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  return { hub, spy, m };
}

let seq = 0;

export const VISA = '4111111111111111';
export const MC = '5555555555554444';
export const MIR = '2200000000000004';
export const DECLINE = '4000000000000002';

export interface PayOpts { amount?: number; email?: string; ip?: string; pan?: string; capture?: 'automatic' | 'manual'; currency?: string }

/** Creates an order and pays it by card; returns the order id and the payment as answered. */
export async function order(hub: Hub, key: string, o: PayOpts = {}) {
  const r = await hub.api('POST', '/v1/orders', {
    key,
    body: {
      order_number: `tc-${process.pid}-${++seq}`, amount: o.amount ?? 1000, currency: o.currency ?? 'RUB', capture: o.capture ?? 'automatic',
      ...(o.email ? { customer: { email: o.email } } : {}),
    },
  });
  if (r.status !== 201) throw new Error(`order not created: ${r.status} ${r.text}`);
  return r.body.id as string;
}

export async function payOrder(hub: Hub, key: string, orderId: string, o: PayOpts = {}) {
  const r = await hub.api('POST', `/v1/orders/${orderId}/payments`, {
    key, headers: o.ip ? { 'X-Forwarded-For': o.ip } : {},
    body: { method: 'card', card: { number: o.pan ?? VISA, exp_month: 12, exp_year: 2031, cvc: '123', holder: 'IVAN PETROV' } },
  });
  if (r.status !== 201) throw new Error(`payment not started: ${r.status} ${r.text}`);
  return r.body as { id: string; status: string; decline_reason: string | null; details: Record<string, unknown> };
}

export async function pay(hub: Hub, key: string, o: PayOpts = {}) {
  const orderId = await order(hub, key, o);
  const p = await payOrder(hub, key, orderId, o);
  return { orderId, ...p };
}

export async function setRules(hub: Hub, key: string, rules: Record<string, unknown>) {
  const r = await hub.api('PUT', '/v1/risk/rules', { key, body: rules });
  if (r.status !== 200) throw new Error(`rules refused: ${r.status} ${r.text}`);
  return r.body;
}

export const denied = (p: { status: string; decline_reason: string | null }) => p.status === 'declined' && p.decline_reason === 'risk_denied';
