import { createTestHub, type TestHub } from '@payhub/core';
import { WebMoneyEmulator, type EmulatedPurse } from '../src/emulator';
import type { emulatorKit } from '@payhub/core';

type Switches = emulatorKit.Switches;

export const PURSE: EmulatedPurse = { purse: 'Z123456789012', secretKey: 'Test-Secret-Key-42', hashMethod: 'sha256', mode: 'test' };
export const LIVE_PURSE: EmulatedPurse = { purse: 'Z222222222222', secretKey: 'Live-Secret-Key-7', hashMethod: 'md5', mode: 'live' };

export interface Ctx {
  hub: TestHub;
  emu: WebMoneyEmulator;
  key: string;
  merchantId: string;
  close(): Promise<void>;
}

export async function setup(o: { mode?: 'test' | 'live'; purse?: EmulatedPurse; settings?: Record<string, unknown> } = {}): Promise<Ctx> {
  const purse = o.purse ?? PURSE;
  const emu = new WebMoneyEmulator({ purses: [purse] });
  await emu.listen();
  const hub = await createTestHub({ plugins: [{ resolve: './plugins/webmoney', options: { formUrl: emu.formUrl } }] });
  const m = await hub.createMerchant({ mode: o.mode ?? 'test', currencies: ['USD', 'EUR', 'RUB'] });
  const r = await hub.api('PUT', '/v1/payment-methods/webmoney/settings', {
    key: m.key, body: { purse: purse.purse, secretKey: purse.secretKey, hashMethod: purse.hashMethod, ...(o.settings ?? {}) },
  });
  if (r.status !== 200) throw new Error(`settings: ${r.status} ${r.text}`);
  return { hub, emu, key: m.key, merchantId: m.id, close: async () => { await hub.close(); await emu.close(); } };
}

let seq = 0;
export async function startPayment(c: Ctx, amount = 12345, currency = 'USD') {
  const o = await c.hub.api('POST', '/v1/orders', { key: c.key, body: { order_number: `wm-${++seq}-${Date.now()}`, amount, currency, description: 'Оплата заказа' } });
  if (o.status !== 201) throw new Error(`order: ${o.status} ${o.text}`);
  const a = await c.hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: c.key, body: { method: 'webmoney' } });
  if (a.status !== 201) throw new Error(`payment: ${a.status} ${a.text}`);
  return { orderId: o.body.id as string, attempt: a.body };
}

/** The buyer's browser posts the next_action form to the emulator; returns the emulator's payment id. */
export async function openForm(nextAction: { url: string; fields: Record<string, string> }): Promise<string> {
  const r = await fetch(nextAction.url, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(nextAction.fields).toString(),
  });
  const j = await r.json() as { id?: string; error?: string };
  if (!j.id) throw new Error(`emulator form: ${r.status} ${j.error}`);
  return j.id;
}

/** The buyer presses Pay or Decline on the emulator page (optionally with per-request switches). */
export async function act(emuUrl: string, id: string, action: 'pay' | 'decline', sw?: Switches) {
  const form: Record<string, string> = { action };
  if (sw) form.emu_switches = JSON.stringify(sw);
  const r = await fetch(`${emuUrl}/lmi/pay/${id}`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
  });
  return await r.json() as { status: string; redirect: string; deliveries: Array<{ kind: string; status: number | null; body: string }> };
}

export async function order(c: Ctx, id: string) {
  return (await c.hub.api('GET', `/v1/orders/${id}`, { key: c.key })).body;
}

export async function captures(c: Ctx, attemptId: string): Promise<number> {
  const rows = await c.hub.db('ledger_entries').where({ kind: 'capture', ref_id: attemptId }).distinct('posting_id');
  return rows.length;
}

export async function paidEvents(c: Ctx, orderId: string): Promise<number> {
  const r = await c.hub.api('GET', `/v1/events?type=order.paid&order_id=${orderId}`, { key: c.key });
  return (r.body.data as unknown[]).length;
}

export async function refusals(c: Ctx): Promise<Array<{ action: string; data: Record<string, unknown> }>> {
  const rows = await c.hub.db('audit_log').where({ merchant_id: c.merchantId, action: 'notification.refused' });
  return rows.map((r: { action: string; data: string }) => ({ action: r.action, data: JSON.parse(r.data) }));
}
