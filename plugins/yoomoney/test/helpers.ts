import { createTestHub, type TestHub } from '@payhub/core';
import { YooMoneyEmulator, type EmulatedWallet, type YooSwitches } from '../src/emulator';

export const WALLET = { receiver: '4100111122223333', notificationSecret: 'n0tif1cation-S3cret' };
export const OTHER_WALLET = { receiver: '4100999988887777', notificationSecret: 'other-wallet-secret' };

export interface Ctx { hub: TestHub; emu: YooMoneyEmulator; key: string; merchantId: string; close(): Promise<void> }

export async function setup(o: { mode?: 'test' | 'live'; settings?: Record<string, unknown>; options?: Record<string, unknown> } = {}): Promise<Ctx> {
  let hubUrl = '';
  const notifyUrl = () => `${hubUrl}/callbacks/yoomoney`;
  const emu = new YooMoneyEmulator({ wallets: [{ ...WALLET, notifyUrl }, { ...OTHER_WALLET, notifyUrl } as EmulatedWallet] });
  await emu.listen();
  const hub = await createTestHub({ plugins: [{ resolve: './plugins/yoomoney', options: { quickpayUrl: emu.quickpayUrl, ...(o.options ?? {}) } }] });
  hubUrl = hub.url;
  const m = await hub.createMerchant({ mode: o.mode ?? 'test', currencies: ['RUB', 'USD'] });
  const r = await hub.api('PUT', '/v1/payment-methods/yoomoney/settings', { key: m.key, body: { ...WALLET, ...(o.settings ?? {}) } });
  if (r.status !== 200) throw new Error(`settings: ${r.status} ${r.text}`);
  return { hub, emu, key: m.key, merchantId: m.id, close: async () => { await hub.close(); await emu.close(); } };
}

let seq = 0;
export async function startPayment(c: Ctx, amount = 10000, body: Record<string, unknown> = {}) {
  const o = await c.hub.api('POST', '/v1/orders', { key: c.key, body: { order_number: `ym-${++seq}-${Date.now()}`, amount, currency: 'RUB', description: 'Order' } });
  if (o.status !== 201) throw new Error(`order: ${o.status} ${o.text}`);
  const a = await c.hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: c.key, body: { method: 'yoomoney', ...body } });
  if (a.status !== 201) throw new Error(`payment: ${a.status} ${a.text}`);
  return { orderId: o.body.id as string, attempt: a.body };
}

export async function openForm(na: { url: string; fields: Record<string, string> }): Promise<string> {
  const r = await fetch(na.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams(na.fields).toString() });
  const j = await r.json() as { id?: string; error?: string };
  if (!j.id) throw new Error(`emulator form: ${r.status} ${j.error}`);
  return j.id;
}

export async function act(emuUrl: string, id: string, action: 'pay' | 'decline', sw?: YooSwitches) {
  const form: Record<string, string> = { action };
  if (sw) form.emu_switches = JSON.stringify(sw);
  const r = await fetch(`${emuUrl}/quickpay/pay/${id}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams(form).toString() });
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
