import path from 'node:path';
import { createTestHub } from '@payhub/core';

export const ROOT = path.resolve(__dirname, '../../../..');
export const SELF = path.resolve(ROOT, 'plugins/loyalty');
export const SANDBOX = path.resolve(ROOT, 'plugins/sandbox-bank');
export const CARD = path.resolve(ROOT, 'plugins/card');

export type Hub = Awaited<ReturnType<typeof createTestHub>>;

export async function startHub() {
  const hub = await createTestHub({ plugins: [{ resolve: SANDBOX }, { resolve: CARD }, { resolve: SELF }] });
  const m = await hub.createMerchant();
  return { hub, m };
}

let seq = 0;
export const orderNumber = () => `loy-${process.pid}-${++seq}`;

export async function payByCard(hub: Hub, key: string, orderId: string) {
  const r = await hub.api('POST', `/v1/orders/${orderId}/payments`, {
    key, body: { method: 'card', card: { number: '4111111111111111', exp_month: 12, exp_year: 2031, cvc: '123', holder: 'IVAN PETROV' } },
  });
  if (r.status !== 201) throw new Error(`payment not started: ${r.status} ${r.text}`);
  return r.body;
}

/** Runs the settling pass as the worker would (operator route). */
export async function settle(hub: Hub) {
  const r = await hub.api('POST', '/v1/loyalty/run', { headers: { authorization: `Bearer ${hub.config.adminToken}` } });
  if (r.status !== 200) throw new Error(`run failed: ${r.status} ${r.text}`);
  return r.body as { checked: number; posted: number };
}

export async function balance(hub: Hub, key: string, number: string): Promise<number> {
  const r = await hub.api('GET', `/v1/loyalty/cards/${number}`, { key });
  if (r.status !== 200) throw new Error(`card not read: ${r.status} ${r.text}`);
  return r.body.balance;
}

/** Every posting balances per currency: the postings that do not (empty when the ledger is sound). */
export async function unbalancedPostings(hub: Hub): Promise<unknown[]> {
  const rows = await hub.db('ledger_entries').select('posting_id', 'currency').sum({ dr: 'debit' }).sum({ cr: 'credit' }).groupBy('posting_id', 'currency');
  return (rows as Array<{ posting_id: string; currency: string; dr: unknown; cr: unknown }>).filter((r) => Number(r.dr) !== Number(r.cr));
}
