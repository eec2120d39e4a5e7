import test from 'ava';
import { engineHubs, newOrder, orderNo, pay } from '../helpers/engine-kit';

const kit = engineHubs(test);

test('POST /v1/orders creates an order (201) with its first transition recorded', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const r = await h.api('POST', '/v1/orders', {
    key: m.key,
    body: { order_number: 'N-1', amount: 12345, currency: 'RUB', description: 'Tea', capture: 'manual', customer: { email: 'a@b.example' }, metadata: { cart: 7 }, expires_in: 600 },
  });
  t.is(r.status, 201, r.text);
  t.regex(r.body.id, /^ord_/);
  t.like(r.body, { object: 'order', order_number: 'N-1', status: 'created', amount: 12345, currency: 'RUB', capture: 'manual', amount_captured: 0, amount_refunded: 0, version: 1, metadata: { cart: 7 } });
  t.deepEqual(r.body.payments, []);
  t.deepEqual(r.body.refunds, []);
  t.is(Date.parse(r.body.expires_at) - Date.parse(r.body.created_at), 600_000);
  const tr = await h.db('transitions').where({ entity_id: r.body.id });
  t.deepEqual(tr.map((x: { from_status: string | null; to_status: string; cause: string }) => [x.from_status, x.to_status, x.cause]), [[null, 'created', 'api.create']]);
});

test('order_number is unique per merchant (409), but another merchant may use it', async (t) => {
  const h = await kit.hub();
  const a = await h.createMerchant();
  const b = await h.createMerchant({ name: 'B' });
  const body = { order_number: 'SAME-1', amount: 100, currency: 'RUB' };
  t.is((await h.api('POST', '/v1/orders', { key: a.key, body })).status, 201);
  const dup = await h.api('POST', '/v1/orders', { key: a.key, body: { ...body, amount: 200 } });
  t.is(dup.status, 409, dup.text);
  t.is(dup.body.code, 'order_number_taken');
  t.is(dup.headers['content-type']?.split(';')[0], 'application/problem+json');
  t.is((await h.api('POST', '/v1/orders', { key: b.key, body })).status, 201);
  t.is(await h.db('orders').where({ order_number: 'SAME-1' }).count({ n: '*' }).first().then((r) => Number(r!.n)), 2);
});

test('GET /v1/orders filters by status, order_number and created range, and pages with starting_after', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const other = await h.createMerchant({ name: 'Other' });
  await newOrder(h, other.key);
  const ids: string[] = [];
  const t0 = h.clock.now().toISOString();
  for (let i = 0; i < 7; i++) {
    const o = await newOrder(h, m.key, { order_number: `L-${i}` });
    ids.push(o.id);
    h.clock.advance(1000);
  }
  const t1 = h.clock.now().toISOString();
  h.clock.advance(1000);
  const late = await newOrder(h, m.key, { order_number: 'L-late' });
  // Two of them paid.
  for (const id of [ids[1]!, ids[4]!]) t.is((await pay(h, m.key, id)).status, 201);

  const all = await h.api('GET', '/v1/orders?limit=100', { key: m.key });
  t.is(all.status, 200);
  t.is(all.body.object, 'list');
  t.deepEqual(all.body.data.map((o: { id: string }) => o.id), [late.id, ...[...ids].reverse()], 'newest first, only own orders');
  t.false(all.body.has_more);

  const paid = await h.api('GET', '/v1/orders?status=paid', { key: m.key });
  t.deepEqual(paid.body.data.map((o: { id: string }) => o.id).sort(), [ids[1], ids[4]].sort());
  const byNumber = await h.api('GET', '/v1/orders?order_number=L-3', { key: m.key });
  t.deepEqual(byNumber.body.data.map((o: { id: string }) => o.id), [ids[3]]);
  const range = await h.api('GET', `/v1/orders?created_from=${encodeURIComponent(t0)}&created_to=${encodeURIComponent(t1)}&limit=100`, { key: m.key });
  t.deepEqual(range.body.data.map((o: { id: string }) => o.id), [...ids].reverse());

  // Cursor pagination: pages of 3 cover everything exactly once, in order.
  const seen: string[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const p = await h.api('GET', `/v1/orders?limit=3${after ? `&starting_after=${after}` : ''}`, { key: m.key });
    t.is(p.status, 200, p.text);
    seen.push(...p.body.data.map((o: { id: string }) => o.id));
    pages++;
    if (!p.body.has_more) break;
    after = p.body.data[p.body.data.length - 1].id;
  }
  t.is(pages, 3);
  t.deepEqual(seen, all.body.data.map((o: { id: string }) => o.id));

  for (const bad of ['status=nope', 'limit=0', 'limit=101', 'limit=2.5', 'created_from=yesterday', 'starting_after=ord_missing']) {
    const r = await h.api('GET', `/v1/orders?${bad}`, { key: m.key });
    t.is(r.status, 422, bad);
    t.is(r.body.errors[0].field, bad.split('=')[0], bad);
  }
});

test('GET /v1/orders/:id returns the order with its payments and refunds', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { amount: 5000 });
  t.is((await pay(h, m.key, o.id, [{ kind: 'declined', reason: 'insufficient_funds' }])).status, 201);
  const p2 = await pay(h, m.key, o.id);
  t.is(p2.body.status, 'captured');
  t.is((await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 1000, reason: 'broken cup' } })).status, 201);
  const g = await h.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.is(g.status, 200);
  t.like(g.body, { id: o.id, status: 'partially_refunded', amount_captured: 5000, amount_refunded: 1000 });
  t.deepEqual(g.body.payments.map((p: { status: string }) => p.status), ['declined', 'captured']);
  t.is(g.body.payments[0].decline_reason, 'insufficient_funds');
  t.is(g.body.refunds.length, 1);
  t.like(g.body.refunds[0], { object: 'refund', amount: 1000, currency: 'RUB', status: 'succeeded', reason: 'broken cup', payment_id: p2.body.id });
  const missing = await h.api('GET', '/v1/orders/ord_doesnotexist', { key: m.key });
  t.is(missing.status, 404);
  t.is(missing.body.code, 'order_not_found');
});

test('an order number with allowed punctuation is accepted; orderNo helper is unique', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const r = await h.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'INV/2026#1:a.b_c-d', amount: 1, currency: 'JPY', metadata: {} } });
  t.is(r.status, 422, 'JPY is not among the merchant currencies');
  t.is(r.body.errors[0].field, 'currency');
  const ok = await h.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'INV/2026#1:a.b-d', amount: 1, currency: 'EUR' } });
  t.is(ok.status, 201, ok.text);
  t.not(orderNo(), orderNo());
});
