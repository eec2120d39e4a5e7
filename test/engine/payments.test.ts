import test from 'ava';
import { attemptPath, engineHubs, eventTypes, newOrder, orderPath, pay, postings, resolveLater } from '../helpers/engine-kit';

const kit = engineHubs(test);

test('automatic capture: attempt captured, order paid, transitions and ledger recorded', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant({ feeBps: 250 });
  const o = await newOrder(h, m.key, { amount: 10000 });
  const p = await pay(h, m.key, o.id);
  t.is(p.status, 201, p.text);
  t.like(p.body, { object: 'payment', status: 'captured', amount: 10000, amount_captured: 10000, order_id: o.id, method: 'scripted' });
  t.deepEqual(await orderPath(h, o.id), ['created', 'processing', 'paid']);
  t.deepEqual(await attemptPath(h, p.body.id), ['pending', 'captured']);
  t.deepEqual(await eventTypes(h, o.id), ['order.created', 'order.processing', 'order.paid']);
  t.is(await postings(h, p.body.id, 'capture'), 1);
  t.is(await postings(h, p.body.id, 'fee'), 1);
  const b = await h.api('GET', '/v1/balance', { key: m.key });
  t.deepEqual(b.body, { object: 'balance', balances: [{ currency: 'RUB', pending: 0, available: 9750 }] });
  const le = await h.api('GET', `/v1/ledger/entries?ref_id=${p.body.id}`, { key: m.key });
  t.is(le.status, 200);
  const legs = le.body.data.map((e: { kind: string; account: string; debit: number; credit: number }) => `${e.kind} ${e.account.replace(m.id, 'M')} ${e.debit}/${e.credit}`).sort();
  t.deepEqual(legs, [
    'capture acquirer:scripted 10000/0', 'capture merchant:M:available 0/10000',
    'fee fees 0/250', 'fee merchant:M:available 250/0',
  ]);
  // Paging the ledger.
  const first = await h.api('GET', '/v1/ledger/entries?limit=3', { key: m.key });
  t.true(first.body.has_more);
  const rest = await h.api('GET', `/v1/ledger/entries?limit=3&starting_after=${first.body.data[2].id}`, { key: m.key });
  t.is(first.body.data.length + rest.body.data.length, 4);
});

test('manual capture: authorized, then a partial capture once; the hold is released', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { amount: 10000, capture: 'manual' });
  const p = await pay(h, m.key, o.id);
  t.is(p.body.status, 'authorized');
  let b = await h.api('GET', '/v1/balance', { key: m.key });
  t.deepEqual(b.body.balances, [{ currency: 'RUB', pending: 10000, available: 0 }]);
  const over = await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, body: { amount: 10001 } });
  t.is(over.status, 409);
  t.is(over.body.code, 'amount_exceeds_authorized');
  const c = await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, body: { amount: 7000 } });
  t.is(c.status, 200, c.text);
  t.like(c.body, { status: 'paid', amount_captured: 7000 });
  t.like(c.body.payments[0], { status: 'captured', amount_captured: 7000 });
  const again = await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, body: { amount: 1000 } });
  t.is(again.status, 409);
  t.is(again.body.code, 'already_captured');
  b = await h.api('GET', '/v1/balance', { key: m.key });
  t.deepEqual(b.body.balances, [{ currency: 'RUB', pending: 0, available: 7000 }]);
  t.deepEqual(await orderPath(h, o.id), ['created', 'processing', 'authorized', 'processing', 'paid']);
  t.deepEqual(h.calls.map((x) => x.op), ['start', 'capture']);
});

test('cancel before capture voids the authorization; cancel of an unpaid order cancels it', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { capture: 'manual' });
  const p = await pay(h, m.key, o.id);
  const c = await h.api('POST', `/v1/orders/${o.id}/cancel`, { key: m.key });
  t.is(c.status, 200, c.text);
  t.is(c.body.status, 'canceled');
  t.is(c.body.payments[0].status, 'canceled');
  t.is(await postings(h, p.body.id, 'void'), 1);
  t.deepEqual((await h.api('GET', '/v1/balance', { key: m.key })).body.balances, [{ currency: 'RUB', pending: 0, available: 0 }]);
  const cap = await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key });
  t.is(cap.status, 409);
  t.is(cap.body.code, 'order_not_capturable');

  const o2 = await newOrder(h, m.key);
  const c2 = await h.api('POST', `/v1/orders/${o2.id}/cancel`, { key: m.key });
  t.is(c2.body.status, 'canceled');
  const p2 = await pay(h, m.key, o2.id);
  t.is(p2.status, 409);
  t.is(p2.body.code, 'order_not_payable');
  t.deepEqual(await eventTypes(h, o2.id), ['order.created', 'order.canceled']);
});

test('several partial refunds; the total never goes above the captured amount', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { amount: 10000, capture: 'manual' });
  await pay(h, m.key, o.id);
  await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, body: { amount: 8000 } });
  const r1 = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 3000 } });
  t.is(r1.status, 201, r1.text);
  t.like(r1.body, { status: 'succeeded', amount: 3000 });
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'partially_refunded');
  const over = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 5001 } });
  t.is(over.status, 409);
  t.is(over.body.code, 'refund_exceeds_captured');
  const r2 = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 2000 } });
  t.is(r2.status, 201);
  const r3 = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: {} });
  t.is(r3.status, 201, 'no amount refunds the rest');
  t.is(r3.body.amount, 3000);
  const g = await h.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.like(g.body, { status: 'refunded', amount_captured: 8000, amount_refunded: 8000 });
  const more = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 1 } });
  t.is(more.status, 409);
  t.is(more.body.code, 'already_refunded');
  t.deepEqual((await eventTypes(h, o.id)).filter((e) => e.startsWith('order.')), [
    'order.created', 'order.processing', 'order.authorized', 'order.processing', 'order.paid', 'order.partially_refunded', 'order.refunded',
  ]);
  t.deepEqual((await h.api('GET', '/v1/balance', { key: m.key })).body.balances, [{ currency: 'RUB', pending: 0, available: 0 }]);
});

test('a declined refund is 402 and reserves nothing; a pending refund is finished by the resolver', async (t) => {
  const h = await kit.hub({ scripted: { refunds: [{ kind: 'declined', reason: 'too_late' }, { kind: 'pending' }], refundStatuses: [{ kind: 'processed' }] } });
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { amount: 1000 });
  await pay(h, m.key, o.id);
  const d = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 1000 } });
  t.is(d.status, 402, d.text);
  t.is(d.body.code, 'refund_declined');
  t.is(d.body.refund.status, 'failed');
  const p = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 1000 } });
  t.is(p.status, 201);
  t.is(p.body.status, 'pending');
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'paid');
  const extra = await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 1 } });
  t.is(extra.status, 409, 'a pending refund reserves its amount');
  await resolveLater(h);
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'paid', 'the second check comes on the schedule (300 s)');
  await resolveLater(h, 240_000);
  const g = await h.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.is(g.body.status, 'refunded');
  t.deepEqual(g.body.refunds.map((r: { status: string }) => r.status), ['failed', 'succeeded']);
  t.is(await postings(h, p.body.id, 'refund'), 1);
});

test('outcome classes: declined and not_sent return the order to created; a new attempt may follow', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key);
  const d = await pay(h, m.key, o.id, [{ kind: 'declined', reason: 'do_not_honor', message: 'Declined by the issuer' }]);
  t.like(d.body, { status: 'declined', decline_reason: 'do_not_honor', decline_message: 'Declined by the issuer' });
  const f = await pay(h, m.key, o.id, [{ kind: 'not_sent', reason: 'connection_refused' }]);
  t.like(f.body, { status: 'failed', decline_reason: 'not_sent:connection_refused' });
  const ok = await pay(h, m.key, o.id);
  t.is(ok.body.status, 'captured');
  t.deepEqual(await orderPath(h, o.id), ['created', 'processing', 'created', 'processing', 'created', 'processing', 'paid']);
  t.deepEqual(await eventTypes(h, d.body.id), ['payment.declined']);
  t.deepEqual(await eventTypes(h, f.body.id), ['payment.failed']);
  const paidAgain = await pay(h, m.key, o.id);
  t.is(paidAgain.status, 409);
  t.is(paidAgain.body.code, 'order_not_payable');
});

test('pending is polled by status() until it is known; unknown too', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key);
  const p = await pay(h, m.key, o.id, [{ kind: 'pending' }, { kind: 'pending' }, { kind: 'processed', status: 'captured' }]);
  t.is(p.body.status, 'pending');
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'processing');
  const busy = await pay(h, m.key, o.id);
  t.is(busy.status, 409);
  t.is(busy.body.code, 'payment_in_progress');
  await h.runWorkers();
  t.deepEqual(h.calls.filter((c) => c.op === 'status'), [], 'not polled before the schedule says so');
  await resolveLater(h);
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'processing');
  await resolveLater(h, 301_000);
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'paid');
  t.is(h.calls.filter((c) => c.op === 'status').length, 2);
  await resolveLater(h, 86_400_000);
  t.is(h.calls.filter((c) => c.op === 'status').length, 2, 'a settled attempt is not polled again');

  const o2 = await newOrder(h, m.key);
  const u = await pay(h, m.key, o2.id, [{ kind: 'unknown', reason: 'timeout' }, { kind: 'declined', reason: 'expired_card' }]);
  t.is(u.body.status, 'unknown');
  await resolveLater(h);
  const g = await h.api('GET', `/v1/orders/${o2.id}`, { key: m.key });
  t.is(g.body.status, 'created');
  t.is(g.body.payments[0].status, 'declined');
  t.deepEqual(await attemptPath(h, u.body.id), ['pending', 'unknown', 'declined']);
});

test('requires_action: the order waits for the buyer; the return completes it', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { return_url: 'https://shop.example/back' });
  const p = await pay(h, m.key, o.id, [
    { kind: 'requires_action', nextAction: { type: 'redirect', url: 'https://acs.example/3ds' } },
    { kind: 'processed', status: 'captured' },
  ]);
  t.like(p.body, { status: 'requires_action', next_action: { type: 'redirect', url: 'https://acs.example/3ds' } });
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'requires_action');
  const back = await h.api('GET', `/return/${p.body.id}`);
  t.is(back.status, 302);
  t.regex(back.headers.location!, /^https:\/\/shop\.example\/back\?order_id=ord_\w+&status=paid$/);
  t.deepEqual(await orderPath(h, o.id), ['created', 'processing', 'requires_action', 'paid']);
});

test('an action the buyer abandons is canceled at its expiry and the order can be paid again', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key);
  const p = await pay(h, m.key, o.id, [{ kind: 'requires_action', nextAction: { type: 'redirect', url: 'https://acs.example/x' } }]);
  t.is(p.body.status, 'requires_action');
  await resolveLater(h, 16 * 60_000);
  const g = await h.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.is(g.body.status, 'created');
  t.like(g.body.payments[0], { status: 'canceled', decline_reason: 'action_expired' });
  t.is((await pay(h, m.key, o.id)).body.status, 'captured');
});

test('orders past expires_in expire; authorized ones past expiry are voided', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const unpaid = await newOrder(h, m.key, { expires_in: 60 });
  const held = await newOrder(h, m.key, { expires_in: 120, capture: 'manual' });
  const p = await pay(h, m.key, held.id);
  t.is(p.body.status, 'authorized');
  const paid = await newOrder(h, m.key, { expires_in: 60 });
  await pay(h, m.key, paid.id);
  await resolveLater(h, 61_000);
  t.is((await h.api('GET', `/v1/orders/${unpaid.id}`, { key: m.key })).body.status, 'expired');
  t.is((await h.api('GET', `/v1/orders/${held.id}`, { key: m.key })).body.status, 'authorized');
  const late = await pay(h, m.key, unpaid.id);
  t.is(late.status, 409);
  t.is(late.body.code, 'order_expired');
  await resolveLater(h, 60_000);
  const g = await h.api('GET', `/v1/orders/${held.id}`, { key: m.key });
  t.is(g.body.status, 'expired');
  t.like(g.body.payments[0], { status: 'canceled', decline_reason: 'expired' });
  t.is(await postings(h, p.body.id, 'void'), 1);
  t.is((await h.api('GET', `/v1/orders/${paid.id}`, { key: m.key })).body.status, 'paid', 'a paid order never expires');
  t.deepEqual(await eventTypes(h, unpaid.id), ['order.created', 'order.expired']);
  t.deepEqual(await orderPath(h, held.id), ['created', 'processing', 'authorized', 'processing', 'expired']);
  t.deepEqual((await h.api('GET', '/v1/balance', { key: m.key })).body.balances, [{ currency: 'RUB', pending: 0, available: 10000 }]);
});

test('a capture the bank refuses leaves the order authorized (402); a capture with an unknown outcome is retried by the resolver', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant();
  const o = await newOrder(h, m.key, { capture: 'manual' });
  await pay(h, m.key, o.id, [{ kind: 'processed', status: 'authorized' }, { kind: 'declined', reason: 'auth_expired' }, { kind: 'throw' }]);
  const c = await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key });
  t.is(c.status, 402, c.text);
  t.is(c.body.code, 'capture_declined');
  t.is((await h.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'authorized');
  const c2 = await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, body: { amount: 4000 } });
  t.is(c2.status, 200, c2.text);
  t.is(c2.body.status, 'processing', 'outcome unknown: still in flight');
  await resolveLater(h);
  const g = await h.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.like(g.body, { status: 'paid', amount_captured: 4000 });
  t.deepEqual(h.calls.map((x) => x.op), ['start', 'capture', 'capture', 'capture']);
  t.is(await postings(h, g.body.payments[0].id, 'capture'), 1);
});

test('refunds return the fee in proportion, the whole fee on a full refund: the balance never goes negative', async (t) => {
  const h = await kit.hub();
  const m = await h.createMerchant({ feeBps: 250 });
  const o = await newOrder(h, m.key, { amount: 10001 });
  const p = await pay(h, m.key, o.id);
  t.is(p.body.status, 'captured');
  const balance = async () => (await h.api('GET', '/v1/balance', { key: m.key })).body.balances[0].available as number;
  t.is(await balance(), 10001 - 250);
  t.is((await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 3333 } })).status, 201);
  // fee back: floor(250 * 3333 / 10001) = 83
  t.is(await balance(), 10001 - 250 - 3333 + 83);
  t.is((await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: {} })).status, 201);
  t.is(await balance(), 0);
  const fees = await h.db('ledger_entries').where({ account: 'fees' }).select('debit', 'credit');
  t.is(fees.reduce((s: number, e: { debit: number; credit: number }) => s + Number(e.credit) - Number(e.debit), 0), 0);
});
