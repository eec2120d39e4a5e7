import { createTestHub, type TestHub } from '@payhub/core';
import { QiwiEmulator } from '../src/emulator';
import type { emulatorKit } from '@payhub/core';

type Switches = emulatorKit.Switches;

export const SITE = { siteId: 'shop-site-01', secretKey: 'eyJ2ZXJzaW9uIjoiUDJQIiwiZGF0YSI6eyJ0ZXN0Ijp0cnVlfX0' };

export interface Ctx { hub: TestHub; emu: QiwiEmulator; key: string; merchantId: string; close(): Promise<void> }

export async function setup(o: { settings?: Record<string, unknown>; mode?: 'test' | 'live' } = {}): Promise<Ctx> {
  let hubUrl = '';
  const emu = new QiwiEmulator({ sites: [{ ...SITE, notifyUrl: () => `${hubUrl}/callbacks/qiwi` }] });
  await emu.listen();
  const hub = await createTestHub({ plugins: [{ resolve: './plugins/qiwi', options: { apiBase: emu.apiBase, timeoutMs: 3000 } }] });
  hubUrl = hub.url;
  const m = await hub.createMerchant({ mode: o.mode ?? 'test', currencies: ['RUB', 'KZT'] });
  const r = await hub.api('PUT', '/v1/payment-methods/qiwi/settings', { key: m.key, body: { ...SITE, ...(o.settings ?? {}) } });
  if (r.status !== 200) throw new Error(`settings: ${r.status} ${r.text}`);
  return { hub, emu, key: m.key, merchantId: m.id, close: async () => { await hub.close(); await emu.close(); } };
}

let seq = 0;
export async function startPayment(c: Ctx, amount = 10000, currency = 'RUB') {
  const o = await c.hub.api('POST', '/v1/orders', { key: c.key, body: { order_number: `qw-${++seq}-${Date.now()}`, amount, currency, description: 'Order', customer: { email: 'a@example.com' } } });
  if (o.status !== 201) throw new Error(`order: ${o.status} ${o.text}`);
  const a = await c.hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: c.key, body: { method: 'qiwi' } });
  return { orderId: o.body.id as string, attempt: a.body, status: a.status };
}

/** The buyer follows the redirect to payUrl and presses Pay or Decline. */
export async function act(payUrl: string, action: 'pay' | 'decline', sw?: Switches) {
  const page = await (await fetch(payUrl, { headers: { accept: 'application/json' } })).json() as { payUrl: string };
  const form: Record<string, string> = { action };
  if (sw) form.emu_switches = JSON.stringify(sw);
  const r = await fetch(new URL(page.payUrl, payUrl), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams(form).toString() });
  return await r.json() as { status: string; redirect: string | null; deliveries: Array<{ kind: string; status: number | null; body: string }> };
}

export async function order(c: Ctx, id: string) {
  return (await c.hub.api('GET', `/v1/orders/${id}`, { key: c.key })).body;
}
export async function captures(c: Ctx, attemptId: string): Promise<number> {
  return (await c.hub.db('ledger_entries').where({ kind: 'capture', ref_id: attemptId }).distinct('posting_id')).length;
}
export async function paidEvents(c: Ctx, orderId: string): Promise<number> {
  return ((await c.hub.api('GET', `/v1/events?type=order.paid&order_id=${orderId}`, { key: c.key })).body.data as unknown[]).length;
}
export async function refusals(c: Ctx): Promise<Array<{ data: Record<string, unknown> }>> {
  const rows = await c.hub.db('audit_log').where({ merchant_id: c.merchantId, action: 'notification.refused' });
  return rows.map((r: { data: string }) => ({ data: JSON.parse(r.data) }));
}
