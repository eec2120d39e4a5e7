import test from 'ava';
import { OTHER_WALLET, WALLET, act, captures, openForm, order, paidEvents, refusals, setup, startPayment } from './helpers';

test('full payment through the emulator ends paid, one capture posting, one order.paid event', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c, 10000);
  t.is(attempt.status, 'requires_action');
  const f = attempt.next_action.fields;
  t.like(f, { receiver: WALLET.receiver, 'quickpay-form': 'button', paymentType: 'AC', sum: '100.00', label: attempt.id });
  t.regex(f.successURL, new RegExp(`/return/${attempt.id}$`));
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay');
  t.is(p.status, 'paid');
  t.deepEqual(p.deliveries.map((d) => [d.status, d.body]), [[200, 'OK']]);
  t.is((await order(c, orderId)).status, 'paid');
  t.is(await captures(c, attempt.id), 1);
  t.is(await paidEvents(c, orderId), 1);
  const a = await c.hub.payments.getAttempt(attempt.id);
  t.regex(a!.providerRef ?? '', /^\d+$/);
});

test('wallet payment (PC, fee inside the allowed share) is paid', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId } = await startPayment(c, 12345, { payment_type: 'PC' });
  const { attempt } = { attempt: (await c.hub.payments.listAttempts(orderId))[0]! };
  t.is((attempt.nextAction as { fields: Record<string, string> }).fields.paymentType, 'PC');
  await act(c.emu.url, await openForm(attempt.nextAction as never), 'pay');
  t.is((await order(c, orderId)).status, 'paid');
});

test('decline: no notification; the unpaid form times out and the order is payable again', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'decline');
  t.is(p.status, 'declined');
  t.deepEqual(p.deliveries, []);
  t.is((await order(c, orderId)).status, 'requires_action');
  c.hub.clock.advance(61 * 60_000);
  await c.hub.runWorkers();
  const a = await c.hub.payments.getAttempt(attempt.id);
  t.is(a!.status, 'canceled');
  t.is((await order(c, orderId)).status, 'created');
  const again = await c.hub.api('POST', `/v1/orders/${orderId}/payments`, { key: c.key, body: { method: 'yoomoney' } });
  t.is(again.status, 201);
  t.is(await captures(c, attempt.id), 0);
});

const refused: Array<[string, Record<string, unknown>, string, number]> = [
  ['forged signature', { corruptSignature: true }, 'bad_signature', 403],
  ['wrong amount', { amount: '99.00' }, 'amount_mismatch', 409],
  ['wrong currency', { currency: '840' }, 'currency_mismatch', 409],
  ['wrong receiver (another wallet signs)', { account: OTHER_WALLET.receiver }, 'bad_signature', 403],
];
for (const [name, sw, reason, status] of refused) {
  test(`refused with nothing changed: ${name}`, async (t) => {
    const c = await setup();
    t.teardown(() => c.close());
    const { orderId, attempt } = await startPayment(c);
    const before = await order(c, orderId);
    const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', sw);
    t.is(p.deliveries[0]!.status, status);
    const after = await order(c, orderId);
    t.is(after.status, before.status);
    t.is(await captures(c, attempt.id), 0);
    t.is(await paidEvents(c, orderId), 0);
    const audit = await refusals(c);
    t.is(audit.length, 1);
    t.is(audit[0]!.data.reason, reason);
    t.false(JSON.stringify(audit).includes(WALLET.notificationSecret));
  });
}

test('a fee beyond the allowed share is refused', async (t) => {
  const c = await setup({ settings: { maxFeeBasisPoints: 100 } });
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay'); // card fee 3 % > 1 %
  t.is(p.deliveries[0]!.status, 409);
  t.not((await order(c, orderId)).status, 'paid');
});

test('a test notification for a live merchant is refused (acknowledged, nothing changed)', async (t) => {
  const c = await setup({ mode: 'live' });
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', { mode: 'test' });
  t.is(p.deliveries[0]!.status, 200);
  t.is((await order(c, orderId)).status, 'requires_action');
  t.is(await captures(c, attempt.id), 0);
  t.is((await refusals(c))[0]!.data.reason, 'test_notification');
});

test('the cabinet test button (no label) is acknowledged', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const r = await c.hub.api('POST', '/callbacks/yoomoney', { form: { notification_type: 'p2p-incoming', test_notification: 'true', label: '', sha1_hash: 'x' } });
  t.is(r.status, 200);
  const u = await c.hub.api('POST', '/callbacks/yoomoney', { form: { notification_type: 'p2p-incoming', label: 'pay_nope', sha1_hash: 'x' } });
  t.is(u.status, 404);
});

for (const flag of ['codepro', 'unaccepted'] as const) {
  test(`${flag}=true is not paid: pending until the money is accepted`, async (t) => {
    const c = await setup();
    t.teardown(() => c.close());
    const { orderId, attempt } = await startPayment(c);
    const id = await openForm(attempt.next_action);
    const p = await act(c.emu.url, id, 'pay', { [flag]: true });
    t.is(p.status, 'held');
    t.is(p.deliveries[0]!.status, 200);
    t.is((await c.hub.payments.getAttempt(attempt.id))!.status, 'pending');
    t.is((await order(c, orderId)).status, 'processing');
    t.is(await captures(c, attempt.id), 0);
    const acc = await fetch(`${c.emu.url}/_emulator/payments/${id}/accept`, { method: 'POST' });
    t.is(acc.status, 200);
    t.is((await order(c, orderId)).status, 'paid');
    t.is(await captures(c, attempt.id), 1);
  });
}

for (const concurrent of [false, true]) {
  test(`five duplicate notifications (${concurrent ? 'concurrent' : 'sequential'}) change the state once`, async (t) => {
    const c = await setup();
    t.teardown(() => c.close());
    const { orderId, attempt } = await startPayment(c);
    const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', { times: 5, concurrent });
    t.is(p.deliveries.length, 5);
    t.true(p.deliveries.every((d) => d.status === 200));
    t.is((await order(c, orderId)).status, 'paid');
    t.is(await captures(c, attempt.id), 1);
    t.is(await paidEvents(c, orderId), 1);
  });
}

test('out of order: an unaccepted notification after the final one changes nothing', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', { outOfOrder: true });
  t.deepEqual(p.deliveries.map((d) => [d.kind, d.status]), [['notification', 200], ['notification.early', 200]]);
  t.is((await order(c, orderId)).status, 'paid');
  t.is((await c.hub.payments.getAttempt(attempt.id))!.status, 'captured');
});

test('switches set through the control API apply to the next payment', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const put = await fetch(`${c.emu.url}/_emulator/switches`, { method: 'PUT', body: JSON.stringify({ neverNotify: true }) });
  t.is(put.status, 200);
  const { orderId, attempt } = await startPayment(c);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay');
  t.deepEqual(p.deliveries, []);
  await fetch(p.redirect!, { redirect: 'manual' });
  t.is((await order(c, orderId)).status, 'processing');
  const bad = await fetch(`${c.emu.url}/_emulator/switches`, { method: 'PUT', body: JSON.stringify({ nonsense: 1 }) });
  t.is(bad.status, 400);
});
