import test from 'ava';
import { SITE, act, captures, order, paidEvents, refusals, setup, startPayment } from './helpers';

test('full payment: bill created, buyer pays, signed notification → paid, one capture, one order.paid', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c, 10000);
  t.is(attempt.status, 'requires_action');
  t.is(attempt.next_action.type, 'redirect');
  const u = new URL(attempt.next_action.url);
  t.true(u.searchParams.get('successUrl')!.endsWith(`/return/${attempt.id}`));
  const bill = c.emu.bill(attempt.id)!;
  t.deepEqual(bill.amount, { value: '100.00', currency: 'RUB' });
  t.is(bill.siteId, SITE.siteId);
  t.deepEqual(bill.customer, { email: 'a@example.com' });
  const p = await act(attempt.next_action.url, 'pay');
  t.deepEqual(p.deliveries.map((d) => [d.status, d.body]), [[200, '{"error":"0"}']]);
  t.is((await order(c, orderId)).status, 'paid');
  t.is(await captures(c, attempt.id), 1);
  t.is(await paidEvents(c, orderId), 1);
});

test('decline: the payer rejects the bill → declined, order payable again', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(attempt.next_action.url, 'decline');
  t.is(p.deliveries[0]!.status, 200);
  const a = await c.hub.payments.getAttempt(attempt.id);
  t.is(a!.status, 'declined');
  t.is(a!.declineReason, 'rejected');
  t.is((await order(c, orderId)).status, 'created');
  const again = await startPayment(c); // a new order works; and the old one takes a new attempt
  t.is(again.status, 201);
  const retry = await c.hub.api('POST', `/v1/orders/${orderId}/payments`, { key: c.key, body: { method: 'qiwi' } });
  t.is(retry.status, 201);
});

const refused: Array<[string, Record<string, unknown>, string, number]> = [
  ['forged signature', { corruptSignature: true }, 'bad_signature', 403],
  ['wrong amount', { amount: '99.99' }, 'amount_mismatch', 409],
  ['wrong currency', { currency: 'KZT' }, 'currency_mismatch', 409],
  ['wrong site', { account: 'other-site' }, 'site_mismatch', 409],
];
for (const [name, sw, reason, status] of refused) {
  test(`refused with nothing changed: ${name}`, async (t) => {
    const c = await setup();
    t.teardown(() => c.close());
    const { orderId, attempt } = await startPayment(c);
    const before = await order(c, orderId);
    const p = await act(attempt.next_action.url, 'pay', sw);
    t.is(p.deliveries[0]!.status, status);
    t.is((await order(c, orderId)).status, before.status);
    t.is((await c.hub.payments.getAttempt(attempt.id))!.status, 'requires_action');
    t.is(await captures(c, attempt.id), 0);
    t.is(await paidEvents(c, orderId), 0);
    const audit = await refusals(c);
    t.is(audit.length, 1);
    t.is(audit[0]!.data.reason, reason);
    t.false(JSON.stringify(audit).includes(SITE.secretKey));
    t.false(c.hub.logs.some((l) => l.includes(SITE.secretKey)));
  });
}

for (const concurrent of [false, true]) {
  test(`five duplicate notifications (${concurrent ? 'concurrent' : 'sequential'}) change the state once`, async (t) => {
    const c = await setup();
    t.teardown(() => c.close());
    const { orderId, attempt } = await startPayment(c);
    const p = await act(attempt.next_action.url, 'pay', { times: 5, concurrent });
    t.is(p.deliveries.length, 5);
    t.true(p.deliveries.every((d) => d.status === 200 && d.body === '{"error":"0"}'));
    t.is((await order(c, orderId)).status, 'paid');
    t.is(await captures(c, attempt.id), 1);
    t.is(await paidEvents(c, orderId), 1);
  });
}

test('out of order: a WAITING notification after PAID changes nothing', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(attempt.next_action.url, 'pay', { outOfOrder: true });
  t.deepEqual(p.deliveries.map((d) => [d.kind, d.status]), [['notification', 200], ['notification.stale', 200]]);
  t.is((await order(c, orderId)).status, 'paid');
  t.is(await captures(c, attempt.id), 1);
});

test('notification lost: the resolver polls the bill and finds it paid', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(attempt.next_action.url, 'pay', { neverNotify: true });
  t.deepEqual(p.deliveries, []);
  await c.hub.runWorkers();
  t.is((await order(c, orderId)).status, 'requires_action');
  c.hub.clock.advance(61 * 60_000); // the bill's lifetime: the resolver asks QIWI
  await c.hub.runWorkers();
  t.is((await order(c, orderId)).status, 'paid');
  t.is(await captures(c, attempt.id), 1);
  t.is(await paidEvents(c, orderId), 1);
});

test('notification lost: the buyer\'s return asks QIWI and finds it paid', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(attempt.next_action.url, 'pay', { neverNotify: true });
  const back = await fetch(p.redirect!, { redirect: 'manual' });
  t.true(back.status < 500);
  t.is((await order(c, orderId)).status, 'paid');
});

test('unpaid bill: at its expiry the resolver rejects it and the order is payable again', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  c.hub.clock.advance(61 * 60_000);
  await c.hub.runWorkers();
  t.is((await c.hub.payments.getAttempt(attempt.id))!.status, 'canceled');
  t.is(c.emu.bill(attempt.id)!.status.value, 'REJECTED');
  t.true(['created', 'expired'].includes((await order(c, orderId)).status));
});

test('order cancel rejects the bill', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const r = await c.hub.api('POST', `/v1/orders/${orderId}/cancel`, { key: c.key });
  t.is(r.status, 200);
  t.is((await order(c, orderId)).status, 'canceled');
  t.is(c.emu.bill(attempt.id)!.status.value, 'REJECTED');
});

test('refunds: partial then the rest through the refunds API', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c, 10000);
  await act(attempt.next_action.url, 'pay');
  const r1 = await c.hub.api('POST', `/v1/orders/${orderId}/refunds`, { key: c.key, body: { amount: 3000 } });
  t.true(r1.status === 200 || r1.status === 201, r1.text);
  t.is((await order(c, orderId)).status, 'partially_refunded');
  const r2 = await c.hub.api('POST', `/v1/orders/${orderId}/refunds`, { key: c.key, body: { amount: 7000 } });
  t.true(r2.status === 200 || r2.status === 201, r2.text);
  t.is((await order(c, orderId)).status, 'refunded');
  const emuPay = [...c.emu.server.payments.values()][0] as unknown as { refunds: Record<string, { amount: { value: string }; status: string }> };
  t.deepEqual(Object.values(emuPay.refunds).map((x) => [x.amount.value, x.status]), [['30.00', 'PARTIAL'], ['70.00', 'FULL']]);
});

test('a wrong secret key: the bills API answers 401 and the attempt fails without a bill', async (t) => {
  const c = await setup({ settings: { secretKey: 'not-the-right-secret-key-0000' } });
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  t.is(attempt.status, 'failed');
  t.is(c.emu.bill(attempt.id), undefined);
  t.is((await order(c, orderId)).status, 'created');
});

test('unknown bill and malformed notifications are refused', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const r = await c.hub.api('POST', '/callbacks/qiwi', { body: { bill: { siteId: SITE.siteId, billId: 'pay_unknown', amount: { value: '1.00', currency: 'RUB' }, status: { value: 'PAID' } } } });
  t.is(r.status, 404);
  const m = await c.hub.api('POST', '/callbacks/qiwi', { raw: '{"bill":', headers: { 'content-type': 'application/json' } });
  t.true(m.status === 400);
});
