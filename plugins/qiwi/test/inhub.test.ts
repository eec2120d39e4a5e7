import test from 'ava';
import { createTestHub } from '@payhub/core';
import { DEFAULT_EMULATED_SITE } from '../src/emulator';

test('option emulator: true starts the emulator with the hub and the whole flow runs by configuration only', async (t) => {
  const hub = await createTestHub({ plugins: [{ resolve: './plugins/qiwi', options: { emulator: true } }] });
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ currencies: ['RUB'] });
  t.is((await hub.api('PUT', '/v1/payment-methods/qiwi/settings', { key: m.key, body: { ...DEFAULT_EMULATED_SITE } })).status, 200);
  const o = await hub.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'inhub-1', amount: 100, currency: 'RUB' } });
  const a = await hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: m.key, body: { method: 'qiwi' } });
  t.is(a.body.status, 'requires_action');
  const page = await (await fetch(a.body.next_action.url, { headers: { accept: 'application/json' } })).json() as { payUrl: string };
  await fetch(new URL(page.payUrl, a.body.next_action.url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'action=pay', redirect: 'manual' });
  t.is((await hub.api('GET', `/v1/orders/${o.body.id}`, { key: m.key })).body.status, 'paid');
});
