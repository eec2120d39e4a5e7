import test from 'ava';
import { createTestHub } from '@payhub/core';
import { repoPlugin } from '../helpers/paths';

test('the demo merchant of an empty database can use every emulator-backed method', async (t) => {
  const hub = await createTestHub({
    plugins: [
      { resolve: repoPlugin('sandbox-bank') }, { resolve: repoPlugin('card') },
      { resolve: repoPlugin('webmoney'), options: { emulator: { purses: [{ purse: 'R000000000001', secretKey: 'emulator-secret-key' }] } } },
      { resolve: repoPlugin('yoomoney'), options: { emulator: true } },
      { resolve: repoPlugin('qiwi'), options: { emulator: true } },
    ],
  });
  t.teardown(() => hub.close());
  const demo = await hub.hub.ensureDemoMerchant();
  t.truthy(demo);
  t.is(await hub.hub.ensureDemoMerchant(), null, 'only on an empty database');
  const methods = await hub.api('GET', '/v1/payment-methods', { key: demo!.test_secret_key });
  const enabled = Object.fromEntries(methods.body.data.map((m: { id: string; enabled: boolean }) => [m.id, m.enabled]));
  t.deepEqual(enabled, { card: true, webmoney: true, yoomoney: true, qiwi: true });
  const settings = await hub.api('GET', '/v1/payment-methods/webmoney/settings', { key: demo!.test_secret_key });
  t.is(settings.body.settings.purse, 'R000000000001');
  t.is(settings.body.settings.secretKey, '********');
  const o = await hub.api('POST', '/v1/orders', { key: demo!.test_secret_key, body: { order_number: 'demo-wm', amount: 15000, currency: 'RUB' } });
  const p = await hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: demo!.test_secret_key, body: { method: 'webmoney' } });
  t.is(p.status, 201, p.text);
  t.is(p.body.status, 'requires_action');
  t.is(p.body.next_action.type, 'form');
  t.is(p.body.next_action.fields.LMI_PAYEE_PURSE, 'R000000000001');
});
