import test from 'ava';
import { createTestHub } from '@payhub/core';
import { scriptedMethodPlugin } from '../helpers/inline-method';
import { newOrder, pay } from '../helpers/engine-kit';
import { checkInvariants, findPans, hasCvcField } from './invariants';

test('findPans and hasCvcField see clear card data and nothing else', (t) => {
  t.deepEqual(findPans('card 4111111111111111 ok'), ['4111111111111111']);
  t.deepEqual(findPans('4111 1111 1111 1111'), ['4111 1111 1111 1111']);
  t.deepEqual(findPans('5500-0000-0000-0004'), ['5500-0000-0000-0004']);
  t.deepEqual(findPans('411111******1111 4111111111111112 2026-11-27T10:00:00.000Z 12345678-1234-4123-8123-123456789012'), []);
  t.true(hasCvcField('{"number":"x","cvc":"123"}'));
  t.true(hasCvcField('cvv2=123'));
  t.false(hasCvcField('{"service":"cvc-free"}'));
});

test('the checker reports a broken database (so a clean report means something)', async (t) => {
  const h = await createTestHub({ inlinePlugins: [scriptedMethodPlugin()] });
  t.teardown(() => h.close());
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key);
  const p = await pay(h, m.key, o.id);
  t.deepEqual(await checkInvariants(h.db, { logs: h.logs }), []);

  const at = h.clock.now().toISOString();
  await h.db('ledger_entries').insert({ posting_id: 'pst_broken', merchant_id: m.id, account: 'fees', currency: 'RUB', debit: 5, credit: 0, kind: 'fee', ref_id: p.body.id, created_at: at });
  await h.db('transitions').insert({ entity: 'order', entity_id: o.id, from_status: 'paid', to_status: 'created', cause: 'test', at });
  await h.db('orders').where({ id: o.id }).update({ metadata: JSON.stringify({ note: '4111 1111 1111 1111', cvc: '123' }), amount_refunded: 20000 });
  await h.db('events').where({ entity_id: o.id, type: 'order.paid' }).del();
  const fractional = h.db('payment_attempts').where({ id: p.body.id }).update({ amount_captured: 10.5 });
  if (h.kind === 'postgres') await t.throwsAsync(fractional, undefined, 'bigint columns refuse a fraction (G9 by type)');
  else await fractional;
  const v = (await checkInvariants(h.db, { logs: [...h.logs, '{"pan":"4111111111111111"}'] })).join('\n');
  const expected = ['G1 posting pst_broken', 'G4 order', 'G6 order', 'G7 order', 'G8 orders.metadata holds a card number', 'G8 orders.metadata holds a CVC-like field', 'G8 log line'];
  if (h.kind === 'sqlite') expected.push('G9 payment_attempts.amount_captured', 'G2 attempt');
  for (const g of expected) {
    t.true(v.includes(g), `${g}\n${v}`);
  }
});
