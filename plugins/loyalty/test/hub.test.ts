import test from 'ava';
import { balance, orderNumber, payByCard, settle, startHub, unbalancedPostings } from './helpers';

/*
 * Through a real hub (SQLite file, or PostgreSQL with PAYHUB_TEST_DB=postgres) with the card method and the
 * sandbox-bank emulator; the loyalty plugin is loaded from its package folder. Settling runs through the operator
 * route (the worker loop does the same on its schedule).
 */

async function newCard(hub: Awaited<ReturnType<typeof startHub>>['hub'], key: string) {
  const r = await hub.api('POST', '/v1/loyalty/cards', { key, body: { holder: { name: 'Anna K' } } });
  if (r.status !== 201) throw new Error(r.text);
  return r.body as { number: string; code: string; balance: number };
}

test('cards: virtual numbers in the range; plastic numbers checked; a number is issued once', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  const v = await newCard(hub, m.key);
  t.regex(v.number, /^9643\d{12}$/);
  t.regex(v.code, /^[A-Z2-9]{8}$/);
  t.is(v.balance, 0);
  const bad = await hub.api('POST', '/v1/loyalty/cards', { key: m.key, body: { kind: 'plastic', number: '9643000000000001' } });
  t.is(bad.status, 422);
  t.is(bad.body.errors[0].field, 'number');
  const ok = await hub.api('POST', '/v1/loyalty/cards', { key: m.key, body: { kind: 'plastic', number: '9643 0000 0000 0004' } });
  t.is(ok.status, 201, ok.text);
  t.is(ok.body.number, '9643000000000004');
  const dup = await hub.api('POST', '/v1/loyalty/cards', { key: m.key, body: { kind: 'plastic', number: '9643000000000004' } });
  t.is(dup.status, 409);
  const other = await hub.createMerchant();
  t.is((await hub.api('GET', `/v1/loyalty/cards/${v.number}`, { key: other.key })).status, 404);
  // The code is kept only as a keyed hash.
  const row = await hub.db('loyalty_cards').where({ number: v.number }).first();
  t.false(JSON.stringify(row).includes(v.code));
});

test('earn after capture (per category), not before; refunds reverse proportionally (floor)', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  await hub.api('PUT', '/v1/loyalty/rules', { key: m.key, body: { earn_bps: 500, categories: { books: 1000 } } });
  const card = await newCard(hub, m.key);
  const o = await hub.api('POST', '/v1/loyalty/orders', {
    key: m.key, body: { card_number: card.number, order_number: orderNumber(), amount: 10_001, currency: 'RUB', capture: 'manual', metadata: { category: 'books' } },
  });
  t.is(o.status, 201, o.text);
  t.is(o.body.earn_bps, 1000);
  await payByCard(hub, m.key, o.body.order_id);
  await settle(hub);
  t.is(await balance(hub, m.key, card.number), 0, 'authorized only: nothing earned yet');
  const cap = await hub.api('POST', `/v1/orders/${o.body.order_id}/capture`, { key: m.key, body: {} });
  t.is(cap.status, 200, cap.text);
  await settle(hub);
  t.is(await balance(hub, m.key, card.number), 1000, 'floor(10001 × 10 %)');
  await settle(hub);
  t.is(await balance(hub, m.key, card.number), 1000, 'a second pass posts nothing');
  const r1 = await hub.api('POST', `/v1/orders/${o.body.order_id}/refunds`, { key: m.key, body: { amount: 3334 } });
  t.is(r1.status, 201, r1.text);
  await settle(hub);
  t.is(await balance(hub, m.key, card.number), 1000 - 333, 'floor(1000 × 3334 / 10001) = 333 reversed');
  await hub.api('POST', `/v1/orders/${o.body.order_id}/refunds`, { key: m.key, body: { amount: 10_001 - 3334 } });
  await settle(hub);
  t.is(await balance(hub, m.key, card.number), 0, 'a full refund reverses all');
  // Another category falls back to earn_bps.
  const o2 = await hub.api('POST', '/v1/loyalty/orders', { key: m.key, body: { card_number: card.number, order_number: orderNumber(), amount: 2000, currency: 'RUB' } });
  await payByCard(hub, m.key, o2.body.order_id);
  await settle(hub);
  t.is(await balance(hub, m.key, card.number), 100);
  const moves = await hub.api('GET', `/v1/loyalty/cards/${card.number}/movements`, { key: m.key });
  t.deepEqual(moves.body.data.map((x: { points: number }) => x.points).sort((a: number, b: number) => a - b), [-667, -333, 100, 1000]);
  t.deepEqual(await unbalancedPostings(hub), []);
});

test('discount and spending: the order is created at the reduced amount; unpaid orders give the points back; refunds return them', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  await hub.api('PUT', '/v1/loyalty/rules', { key: m.key, body: { earn_bps: 0, discount_bps: 1000, point_value: 2 } });
  const card = await newCard(hub, m.key);
  const adj = await hub.api('POST', `/v1/loyalty/cards/${card.number}/adjustments`, { key: m.key, body: { points: 1000, reason: 'welcome' } });
  t.is(adj.status, 201, adj.text);
  const o = await hub.api('POST', '/v1/loyalty/orders', { key: m.key, body: { card_number: card.number, spend_points: 400, order_number: orderNumber(), amount: 10_000, currency: 'RUB' } });
  t.is(o.status, 201, o.text);
  t.is(o.body.discount, 1000);
  t.is(o.body.amount, 10_000 - 1000 - 800);
  const order = await hub.api('GET', `/v1/orders/${o.body.order_id}`, { key: m.key });
  t.is(order.body.amount, 8200);
  t.is(await balance(hub, m.key, card.number), 600, 'points are taken when the order is made');
  // Points may not pay the whole order.
  const tooMuch = await hub.api('POST', '/v1/loyalty/orders', { key: m.key, body: { card_number: card.number, spend_points: 4500, order_number: orderNumber(), amount: 10_000, currency: 'RUB' } });
  t.is(tooMuch.status, 422);
  t.is(tooMuch.body.errors[0].field, 'spend_points');
  // Canceled unpaid: the points come back.
  const c = await hub.api('POST', '/v1/loyalty/orders', { key: m.key, body: { card_number: card.number, spend_points: 100, order_number: orderNumber(), amount: 1000, currency: 'RUB' } });
  t.is(await balance(hub, m.key, card.number), 500);
  const cancel = await hub.api('POST', `/v1/orders/${c.body.order_id}/cancel`, { key: m.key, body: {} });
  t.is(cancel.status, 200, cancel.text);
  await settle(hub);
  t.is(await balance(hub, m.key, card.number), 600);
  // Paid, then half refunded: half the spent points return.
  await payByCard(hub, m.key, o.body.order_id);
  await settle(hub);
  t.is(await balance(hub, m.key, card.number), 600);
  await hub.api('POST', `/v1/orders/${o.body.order_id}/refunds`, { key: m.key, body: { amount: 4100 } });
  await settle(hub);
  t.is(await balance(hub, m.key, card.number), 800);
  t.deepEqual(await unbalancedPostings(hub), []);
});

test('spending more points than held is refused, also by 10 concurrent spends; the ledger stays balanced', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  const card = await newCard(hub, m.key);
  await hub.api('POST', `/v1/loyalty/cards/${card.number}/adjustments`, { key: m.key, body: { points: 100, reason: 'seed' } });
  const one = await hub.api('POST', '/v1/loyalty/orders', { key: m.key, body: { card_number: card.number, spend_points: 101, order_number: orderNumber(), amount: 5000, currency: 'RUB' } });
  t.is(one.status, 422);
  t.is(one.body.code, 'insufficient_points');
  const results = await Promise.all(Array.from({ length: 10 }, () => hub.api('POST', '/v1/loyalty/orders', {
    key: m.key, body: { card_number: card.number, spend_points: 30, order_number: orderNumber(), amount: 5000, currency: 'RUB' },
  })));
  t.is(results.filter((r) => r.status === 201).length, 3);
  t.is(results.filter((r) => r.status === 422 && r.body.code === 'insufficient_points').length, 7);
  t.is(await balance(hub, m.key, card.number), 10);
  const neg = await hub.api('POST', `/v1/loyalty/cards/${card.number}/adjustments`, { key: m.key, body: { points: -11, reason: 'x' } });
  t.is(neg.status, 422);
  // The orders whose spend was refused are canceled, so they cannot be paid at the reduced price.
  const rows = await hub.db('orders').where({ merchant_id: m.id }).select('status');
  t.is(rows.filter((r: { status: string }) => r.status === 'canceled').length, 8);
  t.deepEqual(await unbalancedPostings(hub), []);
  const total = await hub.db('ledger_entries').where({ currency: 'PTS' }).sum({ dr: 'debit' }).sum({ cr: 'credit' }).first();
  t.is(Number(total!.dr), Number(total!.cr));
});

test('holder page: the code shows the balance; wrong codes are refused and lock the page', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  const card = await newCard(hub, m.key);
  await hub.api('POST', `/v1/loyalty/cards/${card.number}/adjustments`, { key: m.key, body: { points: 250, reason: 'gift' } });
  const form = await hub.api('GET', `/loyalty/${card.number}`);
  t.is(form.status, 200);
  t.regex(form.text, /<form method="post"/);
  t.false(form.text.includes(card.number), 'the page shows the last 4 digits only');
  const ok = await hub.api('POST', `/loyalty/${card.number}`, { form: { code: card.code.toLowerCase() } });
  t.is(ok.status, 200);
  t.regex(ok.text, /data-balance="250"/);
  const wrong = await hub.api('POST', `/loyalty/${card.number}`, { form: { code: 'AAAAAAAA' } });
  t.is(wrong.status, 403);
  t.false(wrong.text.includes('250'));
  for (let i = 0; i < 4; i++) await hub.api('POST', `/loyalty/${card.number}`, { form: { code: 'BBBBBBBB' } });
  const locked = await hub.api('POST', `/loyalty/${card.number}`, { form: { code: card.code } });
  t.is(locked.status, 429);
  hub.clock.advance(16 * 60_000);
  t.is((await hub.api('POST', `/loyalty/${card.number}`, { form: { code: card.code } })).status, 200);
  t.is((await hub.api('POST', '/loyalty/9643000000000004', { form: { code: card.code } })).status, 403);
});
