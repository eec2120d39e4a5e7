import test from 'ava';
import { engineHubs, eventTypes, latch, newOrder, pay, postings, resolveLater } from '../helpers/engine-kit';
import { emulatorMethodPlugin, startProviderEmulator } from '../helpers/provider-emulator';

const kit = engineHubs(test);

test('malformed JSON → 400 malformed_json', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const r = await h.api('POST', '/v1/orders', { key: m.key, raw: '{"order_number": "x", "amount": 1' });
  t.is(r.status, 400, r.text);
  t.is(r.body.code, 'malformed_json');
  t.is(r.headers['content-type']?.split(';')[0], 'application/problem+json');
  t.is(await h.db('orders').count({ n: '*' }).first().then((x) => Number(x!.n)), 0);
});

test('unknown fields → 422 naming each field', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const r = await h.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'U-1', amount: 100, currency: 'RUB', colour: 'red', customer: { email: 'a@b.example', shoe: 42 } } });
  t.is(r.status, 422, r.text);
  t.deepEqual(r.body.errors.map((e: { field: string }) => e.field).sort(), ['colour', 'customer.shoe']);
  const o = await newOrder(h, m.key, { capture: 'manual' });
  const c = await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, body: { amount: 1, extra: true } });
  t.is(c.status, 422);
  t.is(c.body.errors[0].field, 'extra');
  const rf = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { note: 'x' } });
  t.is(rf.status, 422);
  t.is(rf.body.errors[0].field, 'note');
});

for (const [label, amount] of [['zero', 0], ['negative', -100], ['fractional', 10.5], ['too large', 1_000_000_000_001], ['a string', '100']] as const) {
  test(`amount ${label} → 422 naming amount`, async (t) => {
    const h = await kit.hub();
    const m = await h.createMerchant();
    const r = await h.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'A-1', amount, currency: 'RUB' } });
    t.is(r.status, 422, r.text);
    t.is(r.body.code, 'validation_failed');
    t.deepEqual(r.body.errors.map((e: { field: string }) => e.field), ['amount']);
    // The same bounds hold for captures and refunds.
    const o = await newOrder(h, m.key, { capture: 'manual' });
    await pay(h, m.key, o.id);
    const c = await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, body: { amount } });
    t.is(c.status, 422, c.text);
    t.is(c.body.errors[0].field, 'amount');
    await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key });
    const rf = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount } });
    t.is(rf.status, 422, rf.text);
    t.is(rf.body.errors[0].field, 'amount');
  });
}

test('unknown currency → 422 naming currency', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  for (const currency of ['XXX', 'rub', '', 643]) {
    const r = await h.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'C-1', amount: 100, currency } });
    t.is(r.status, 422, String(currency));
    t.deepEqual(r.body.errors.map((e: { field: string }) => e.field), ['currency']);
  }
});

test('missing or wrong key → 401', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key);
  const cases: Array<[string, Record<string, string>]> = [
    ['none', {}],
    ['not bearer', { authorization: `Basic ${Buffer.from(`${m.key}:`).toString('base64')}` }],
    ['malformed', { authorization: 'Bearer sk_test_short' }],
    ['unknown', { authorization: 'Bearer sk_test_ABCDEFGHIJKLMNOPQRSTUVWXYZ123456' }],
    ['live key shape for a test merchant', { authorization: `Bearer ${m.key.replace('sk_test_', 'sk_live_')}` }],
  ];
  for (const [label, headers] of cases) {
    for (const [method, path] of [['GET', '/v1/orders'], ['GET', `/v1/orders/${o.id}`], ['POST', '/v1/orders'], ['POST', `/v1/orders/${o.id}/payments`], ['GET', '/v1/balance']]) {
      const r = await h.api(method!, path!, { headers, body: method === 'POST' ? { order_number: 'K-1', amount: 1, currency: 'RUB' } : undefined });
      t.is(r.status, 401, `${label} ${method} ${path}`);
      t.regex(r.body.code, /api_key/);
    }
  }
  t.is(await h.db('orders').count({ n: '*' }).first().then((x) => Number(x!.n)), 1);
});

test("another merchant's order → 404 on every order route", async (t) => {
  const h = await kit.hub();
  const a = await h.createMerchant();
  const b = await h.createMerchant({ name: 'Intruder' });
  const o = await newOrder(h, a.key, { capture: 'manual' });
  for (const [method, path, body] of [
    ['GET', `/v1/orders/${o.id}`], ['POST', `/v1/orders/${o.id}/payments`, { method: 'scripted' }], ['POST', `/v1/orders/${o.id}/capture`, {}],
    ['POST', `/v1/orders/${o.id}/cancel`], ['POST', `/v1/orders/${o.id}/refunds`, {}],
  ] as Array<[string, string, unknown?]>) {
    const r = await h.api(method, path, { key: b.key, body });
    t.is(r.status, 404, `${method} ${path}`);
    t.is(r.body.code, 'order_not_found');
  }
  t.is((await h.api('GET', `/v1/orders?order_number=${o.order_number}`, { key: b.key })).body.data.length, 0);
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: a.key })).body.status, 'created', 'nothing happened to it');
});

test('capture twice → 409 already_captured', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { capture: 'manual' });
  await pay(h, m.key, o.id);
  t.is((await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key })).status, 200);
  const r = await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key });
  t.is(r.status, 409);
  t.is(r.body.code, 'already_captured');
  const a = await newOrder(h, m.key);
  await pay(h, m.key, a.id);
  const r2 = await h.api('POST', `/v1/orders/${a.id}/capture`, { key: m.key });
  t.is(r2.status, 409, 'an automatically captured order cannot be captured again');
  t.is(r2.body.code, 'already_captured');
  const fresh = await newOrder(h, m.key);
  const r3 = await h.api('POST', `/v1/orders/${fresh.id}/capture`, { key: m.key });
  t.is(r3.status, 409);
  t.is(r3.body.code, 'order_not_capturable');
});

test('refund above captured → 409 refund_exceeds_captured', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { amount: 1000 });
  await pay(h, m.key, o.id);
  const r = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 1001 } });
  t.is(r.status, 409);
  t.is(r.body.code, 'refund_exceeds_captured');
  const unpaid = await newOrder(h, m.key);
  const r2 = await h.api('POST', `/v1/orders/${unpaid.id}/refunds`, { key: m.key, body: { amount: 1 } });
  t.is(r2.status, 409);
  t.is(r2.body.code, 'order_not_refundable');
});

test('refund in another currency → 409 currency_mismatch', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { amount: 1000, currency: 'EUR' });
  await pay(h, m.key, o.id);
  const r = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 100, currency: 'USD' } });
  t.is(r.status, 409, r.text);
  t.is(r.body.code, 'currency_mismatch');
  t.is((await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 100, currency: 'EUR' } })).status, 201);
});

test('cancel after capture → 409 already_captured', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key);
  await pay(h, m.key, o.id);
  const r = await h.api('POST', `/v1/orders/${o.id}/cancel`, { key: m.key });
  t.is(r.status, 409);
  t.is(r.body.code, 'already_captured');
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'paid');
});

test('20 concurrent captures → one capture: one bank call, one ledger capture posting, one order.paid', async (t) => {
  const gate = latch();
  const h = await kit.hub({ scripted: { gate: (op) => (op === 'capture' ? gate.wait() : undefined) } });
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { amount: 10000, capture: 'manual' });
  const p = await pay(h, m.key, o.id);
  let done = 0;
  const all = Promise.all(Array.from({ length: 20 }, (_, i) => h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, headers: { 'Idempotency-Key': `cap-${i}` }, body: { amount: 6000 } }).finally(() => done++)));
  // Hold the bank's answer until the other 19 requests were answered (or, wrongly, called the bank again).
  const until = Date.now() + 20_000;
  while (done < 19 && h.calls.filter((c) => c.op === 'capture').length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  gate.open();
  const rs = await all;
  const codes = rs.map((r) => r.status).sort();
  t.is(codes.filter((c) => c === 200).length, 1, JSON.stringify(rs.map((r) => [r.status, r.body.code])));
  t.true(rs.every((r) => r.status === 200 || r.status === 409), JSON.stringify(codes));
  t.is(h.calls.filter((c) => c.op === 'capture').length, 1, 'the bank is asked to capture once');
  t.is(await postings(h, p.body.id, 'capture'), 1);
  t.is((await eventTypes(h, o.id)).filter((e) => e === 'order.paid').length, 1);
  const g = await h.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.like(g.body, { status: 'paid', amount_captured: 6000 });
});

test('two concurrent 60 refunds on 100 captured → one succeeds', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { amount: 100 });
  await pay(h, m.key, o.id);
  const rs = await Promise.all([0, 1].map(() => h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 60 } })));
  t.deepEqual(rs.map((r) => r.status).sort(), [201, 409], JSON.stringify(rs.map((r) => r.body)));
  t.is(rs.find((r) => r.status === 409)!.body.code, 'refund_exceeds_captured');
  const g = await h.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.like(g.body, { status: 'partially_refunded', amount_refunded: 60 });
  t.is(g.body.refunds.length, 1);
});

test('a provider that times out after charging → unknown, then resolved once by the resolver', async (t) => {
  const provider = await startProviderEmulator();
  t.teardown(() => provider.close());
  const h = await kit.hub({ inlinePlugins: [emulatorMethodPlugin(provider.url, { timeoutMs: 200 })] });
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { amount: 4200 });
  provider.slowMs = 1500;
  const p = await h.api('POST', `/v1/orders/${o.id}/payments`, { key: m.key, body: { method: 'emu' } });
  provider.slowMs = 0;
  t.is(p.status, 201, p.text);
  t.is(p.body.status, 'unknown');
  t.is(provider.charges.get(p.body.id)?.requests, 1, 'the provider charged');
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'processing');
  t.is(await postings(h, p.body.id, 'capture'), 0);
  // A second payment on the same order is refused while the outcome is unknown (no double charge).
  const again = await h.api('POST', `/v1/orders/${o.id}/payments`, { key: m.key, body: { method: 'emu' } });
  t.is(again.status, 409);
  t.is(again.body.code, 'payment_in_progress');
  await h.runWorkers();
  t.is(provider.log.filter((l) => l.startsWith('GET')).length, 0, 'not polled before its time');
  await resolveLater(h);
  await resolveLater(h, 400_000);
  await resolveLater(h, 4_000_000);
  const g = await h.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.like(g.body, { status: 'paid', amount_captured: 4200 });
  t.is(g.body.payments.length, 1);
  t.is(provider.log.filter((l) => l.startsWith('GET')).length, 1, 'polled once');
  t.is(provider.charges.size, 1);
  t.is(provider.charges.get(p.body.id)!.requests, 1, 'charged once');
  t.is(await postings(h, p.body.id, 'capture'), 1);
  t.is((await eventTypes(h, o.id)).filter((e) => e === 'order.paid').length, 1);
});
