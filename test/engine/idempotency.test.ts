import test from 'ava';
import { engineHubs, latch, newOrder, orderNo } from '../helpers/engine-kit';

const kit = engineHubs(test);

test('same key + same body → the stored response, byte for byte, with Idempotent-Replayed: true', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const body = { order_number: 'I-1', amount: 500, currency: 'RUB', metadata: { a: 1, b: 2 } };
  const first = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'k-1' }, body });
  t.is(first.status, 201);
  t.false('idempotent-replayed' in first.headers);
  h.clock.advance(5000);
  // Same body with the keys in another order is the same request.
  const again = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'k-1' }, raw: JSON.stringify({ metadata: { b: 2, a: 1 }, currency: 'RUB', amount: 500, order_number: 'I-1' }) });
  t.is(again.status, 201);
  t.is(again.headers['idempotent-replayed'], 'true');
  t.is(again.text, first.text);
  t.is(await h.db('orders').where({ merchant_id: m.id }).count({ n: '*' }).first().then((r) => Number(r!.n)), 1);

  // Different body → 422; the original record is not poisoned.
  const other = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'k-1' }, body: { ...body, amount: 501 } });
  t.is(other.status, 422);
  t.is(other.body.code, 'idempotency_key_reused');
  t.is(other.body.errors[0].field, 'Idempotency-Key');
  // A different body that the checks would refuse is still a reused key, not a validation error.
  const invalid = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'k-1' }, body: { ...body, amount: 0 } });
  t.is(invalid.status, 422);
  t.is(invalid.body.code, 'idempotency_key_reused');
  // The same for a payment: its replay is the stored payment; another, invalid body is a reused key.
  const pay = await h.api('POST', `/v1/orders/${first.body.id}/payments`, { key: m.key, headers: { 'Idempotency-Key': 'p-1' }, body: { method: 'scripted' } });
  t.is(pay.status, 201, pay.text);
  const payAgain = await h.api('POST', `/v1/orders/${first.body.id}/payments`, { key: m.key, headers: { 'Idempotency-Key': 'p-1' }, body: { method: 'scripted' } });
  t.is(payAgain.headers['idempotent-replayed'], 'true');
  t.is(payAgain.text, pay.text);
  const payOther = await h.api('POST', `/v1/orders/${first.body.id}/payments`, { key: m.key, headers: { 'Idempotency-Key': 'p-1' }, body: { method: 'no-such-method' } });
  t.is(payOther.status, 422);
  t.is(payOther.body.code, 'idempotency_key_reused');
  const third = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'k-1' }, body });
  t.is(third.status, 201);
  t.is(third.text, first.text);

  // Keys are per merchant.
  const m2 = await h.createMerchant({ name: 'Second' });
  const theirs = await h.api('POST', '/v1/orders', { key: m2.key, headers: { 'Idempotency-Key': 'k-1' }, body });
  t.is(theirs.status, 201);
  t.false('idempotent-replayed' in theirs.headers);
  t.not(theirs.body.id, first.body.id);
});

test('a validation failure is not stored: the same key may be used again with a fixed body', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const bad = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'fix-me' }, body: { order_number: 'F-1', amount: 0, currency: 'RUB' } });
  t.is(bad.status, 422);
  const good = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'fix-me' }, body: { order_number: 'F-1', amount: 10, currency: 'RUB' } });
  t.is(good.status, 201, good.text);
  // A 409 business answer is stored and replayed.
  const dup = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'dup' }, body: { order_number: 'F-1', amount: 10, currency: 'RUB' } });
  t.is(dup.status, 409);
  const dup2 = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'dup' }, body: { order_number: 'F-1', amount: 10, currency: 'RUB' } });
  t.is(dup2.status, 409);
  t.is(dup2.headers['idempotent-replayed'], 'true');
  t.is(dup2.body.code, 'order_number_taken');
  const long = await h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'x'.repeat(256) }, body: { order_number: 'F-2', amount: 10, currency: 'RUB' } });
  t.is(long.status, 400);
  t.is(long.body.code, 'invalid_idempotency_key');
});

test('the same key while the first request still runs → 409; afterwards the stored response', async (t) => {
  const gate = latch();
  const h = await kit.hub({ scripted: { gate: (op) => (op === 'start' ? gate.wait() : undefined) } });
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key);
  const headers = { 'Idempotency-Key': 'pay-1' };
  const first = h.api('POST', `/v1/orders/${o.id}/payments`, { key: m.key, headers, body: { method: 'scripted' } });
  while (!h.calls.some((c) => c.op === 'start')) await new Promise((r) => setTimeout(r, 5));
  const during = await h.api('POST', `/v1/orders/${o.id}/payments`, { key: m.key, headers, body: { method: 'scripted' } });
  t.is(during.status, 409, during.text);
  t.is(during.body.code, 'idempotency_key_in_use');
  t.is(during.headers['retry-after'], '1');
  gate.open();
  const r1 = await first;
  t.is(r1.status, 201);
  t.is(r1.body.status, 'captured');
  const after = await h.api('POST', `/v1/orders/${o.id}/payments`, { key: m.key, headers, body: { method: 'scripted' } });
  t.is(after.status, 201);
  t.is(after.headers['idempotent-replayed'], 'true');
  t.is(after.body.id, r1.body.id);
  t.is(h.calls.filter((c) => c.op === 'start').length, 1);
});

test('50 concurrent requests with one key → one order row', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const body = { order_number: orderNo('c'), amount: 777, currency: 'RUB' };
  const rs = await Promise.all(Array.from({ length: 50 }, () => h.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'same' }, body })));
  t.true(rs.every((r) => r.status === 201 || r.status === 409), JSON.stringify(rs.map((r) => r.status)));
  const fresh = rs.filter((r) => r.status === 201 && !r.headers['idempotent-replayed']);
  t.is(fresh.length, 1);
  for (const r of rs.filter((x) => x.status === 201)) t.is(r.body.id, fresh[0]!.body.id);
  for (const r of rs.filter((x) => x.status === 409)) t.is(r.body.code, 'idempotency_key_in_use');
  t.is(await h.db('orders').where({ merchant_id: m.id }).count({ n: '*' }).first().then((r) => Number(r!.n)), 1);
  t.is(await h.db('idempotency_keys').where({ merchant_id: m.id }).count({ n: '*' }).first().then((r) => Number(r!.n)), 1);
});

test('50 concurrent payment requests with one key → one attempt, one provider call', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key);
  const rs = await Promise.all(Array.from({ length: 50 }, () => h.api('POST', `/v1/orders/${o.id}/payments`, { key: m.key, headers: { 'Idempotency-Key': 'pay-same' }, body: { method: 'scripted' } })));
  t.true(rs.every((r) => r.status === 201 || r.status === 409), JSON.stringify(rs.map((r) => r.status)));
  t.is(rs.filter((r) => r.status === 201 && !r.headers['idempotent-replayed']).length, 1);
  t.is(await h.db('payment_attempts').where({ order_id: o.id }).count({ n: '*' }).first().then((r) => Number(r!.n)), 1);
  t.is(h.calls.filter((c) => c.op === 'start').length, 1);
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'paid');
});

test('concurrent payment requests without a key: the order admits one attempt at a time', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key);
  const rs = await Promise.all(Array.from({ length: 10 }, () => h.api('POST', `/v1/orders/${o.id}/payments`, { key: m.key, body: { method: 'scripted' } })));
  t.is(rs.filter((r) => r.status === 201).length, 1, JSON.stringify(rs.map((r) => [r.status, r.body.code])));
  t.true(rs.filter((r) => r.status !== 201).every((r) => r.status === 409 && ['payment_in_progress', 'order_not_payable'].includes(r.body.code)));
  t.is(h.calls.filter((c) => c.op === 'start').length, 1);
});
