import test from 'ava';
import path from 'node:path';
import { createTestHub } from '@payhub/core';

const self = path.resolve(__dirname, '..', '..');

test('the template plugin loads, migrates and serves its route', async (t) => {
  const hub = await createTestHub({ plugins: [{ resolve: self, options: { greeting: 'Note' } }] });
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const o = await hub.api('POST', '/v1/orders', { key: m.key, body: { order_number: 't-1', amount: 100, currency: 'RUB' } });
  const r = await hub.api('POST', `/v1/template/orders/${o.body.id}/notes`, { key: m.key, body: { text: 'gift wrap' } });
  t.is(r.status, 201);
  t.is(r.body.text, 'Note: gift wrap');
  t.is((await hub.db('template_notes').where({ order_id: o.body.id })).length, 1);
  const bad = await hub.api('POST', `/v1/template/orders/${o.body.id}/notes`, { key: m.key, body: { text: '' } });
  t.is(bad.status, 422);
  t.is(bad.body.errors[0].field, 'text');
});
