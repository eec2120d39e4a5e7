import test from 'ava';
import { LIVE_PURSE, PURSE, act, captures, openForm, order, paidEvents, refusals, setup, startPayment } from './helpers';

test('full payment through the emulator ends paid, one capture posting, one order.paid event', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c, 12345);
  t.is(attempt.status, 'requires_action');
  const na = attempt.next_action;
  t.is(na.type, 'form');
  t.is(na.fields.LMI_PAYEE_PURSE, PURSE.purse);
  t.is(na.fields.LMI_PAYMENT_AMOUNT, '123.45');
  t.regex(na.fields.LMI_PAYMENT_NO, /^[1-9][0-9]*$/);
  t.is(na.fields.LMI_SIM_MODE, '0');
  t.regex(na.fields.LMI_RESULT_URL, /^http:\/\/[^/]+\/callbacks\/webmoney$/);
  t.is(Buffer.from(na.fields.LMI_PAYMENT_DESC_BASE64, 'base64').toString('utf8'), 'Оплата заказа');
  const id = await openForm(na);
  const p = await act(c.emu.url, id, 'pay');
  t.is(p.status, 'paid');
  t.deepEqual(p.deliveries.map((d) => [d.kind, d.status, d.body]), [['prerequest', 200, 'YES'], ['notification', 200, 'YES']]);
  const o = await order(c, orderId);
  t.is(o.status, 'paid');
  t.is(await captures(c, attempt.id), 1);
  t.is(await paidEvents(c, orderId), 1);
  // The buyer's success return changes nothing more.
  const back = await fetch(p.redirect, { redirect: 'manual' });
  t.true(back.status < 500);
  t.is((await order(c, orderId)).status, 'paid');
});

test('decline: the fail return declines the attempt and the order is payable again', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const id = await openForm(attempt.next_action);
  const p = await act(c.emu.url, id, 'decline');
  t.is(p.status, 'declined');
  t.deepEqual(p.deliveries, []);
  const back = await fetch(p.redirect, { redirect: 'manual' });
  t.true(back.status < 500);
  const a = await c.hub.payments.getAttempt(attempt.id);
  t.is(a!.status, 'declined');
  t.is((await order(c, orderId)).status, 'created');
  const again = await c.hub.api('POST', `/v1/orders/${orderId}/payments`, { key: c.key, body: { method: 'webmoney' } });
  t.is(again.status, 201);
  t.not(again.body.next_action.fields.LMI_PAYMENT_NO, attempt.next_action.fields.LMI_PAYMENT_NO);
});

test('LMI_SIM_MODE=1 in test mode fails the payment: no notification, fail return', async (t) => {
  const c = await setup({ settings: { simMode: '1' } });
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  t.is(attempt.next_action.fields.LMI_SIM_MODE, '1');
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay');
  t.is(p.status, 'declined');
  t.regex(p.redirect, /result=fail/);
  await fetch(p.redirect, { redirect: 'manual' });
  t.is((await order(c, orderId)).status, 'created');
  t.is(await captures(c, attempt.id), 0);
});

const refused: Array<[string, Record<string, unknown>, string, number]> = [
  ['forged signature', { corruptSignature: true }, 'bad_signature', 403],
  ['wrong amount', { amount: '123.44' }, 'amount_mismatch', 409],
  ['wrong currency (EUR purse)', { currency: 'EUR' }, 'currency_mismatch', 409],
  ['wrong purse', { account: 'Z999999999999' }, 'purse_mismatch', 409],
];
for (const [name, sw, reason, status] of refused) {
  test(`refused with nothing changed: ${name}`, async (t) => {
    const c = await setup();
    t.teardown(() => c.close());
    const { orderId, attempt } = await startPayment(c);
    const before = await order(c, orderId);
    // Skip the pre-request answer check by sending it after (the pre-request would refuse these too).
    const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', { ...sw, outOfOrder: true });
    const n = p.deliveries.find((d) => d.kind === 'notification')!;
    t.is(n.status, status);
    const pre = p.deliveries.find((d) => d.kind === 'prerequest')!;
    // The pre-request (sent afterwards here) is unsigned: it refuses the mismatches; a forgery left the order payable.
    if (reason === 'bad_signature') t.is(pre.body, 'YES');
    else t.not(pre.body, 'YES');
    const after = await order(c, orderId);
    t.is(after.status, before.status);
    t.is(after.amount_captured ?? 0, 0);
    t.is(await captures(c, attempt.id), 0);
    t.is(await paidEvents(c, orderId), 0);
    const audit = await refusals(c);
    t.is(audit.length, 1);
    t.is(audit[0]!.data.reason, reason);
    t.false(JSON.stringify(audit).includes(PURSE.secretKey));
  });
}

test('a test-mode notification for a live merchant is refused', async (t) => {
  const c = await setup({ mode: 'live', purse: LIVE_PURSE });
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  t.is(attempt.next_action.fields.LMI_SIM_MODE, undefined);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', { mode: 'test', outOfOrder: true });
  t.is(p.deliveries.find((d) => d.kind === 'notification')!.status, 409);
  t.not((await order(c, orderId)).status, 'paid');
  t.is(await captures(c, attempt.id), 0);
  t.is((await refusals(c))[0]!.data.reason, 'mode_mismatch');
});

test('live merchant with a live purse (MD5 LMI_HASH) is paid', async (t) => {
  const c = await setup({ mode: 'live', purse: LIVE_PURSE });
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c, 500);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay');
  t.is(p.status, 'paid');
  t.is((await order(c, orderId)).status, 'paid');
});

for (const concurrent of [false, true]) {
  test(`five duplicate notifications (${concurrent ? 'concurrent' : 'sequential'}) change the state once`, async (t) => {
    const c = await setup();
    t.teardown(() => c.close());
    const { orderId, attempt } = await startPayment(c);
    const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', { times: 5, concurrent });
    const ns = p.deliveries.filter((d) => d.kind === 'notification');
    t.is(ns.length, 5);
    t.true(ns.every((d) => d.status === 200));
    t.is((await order(c, orderId)).status, 'paid');
    t.is(await captures(c, attempt.id), 1);
    t.is(await paidEvents(c, orderId), 1);
    const trans = await c.hub.db('transitions').where({ entity: 'attempt', entity_id: attempt.id, to_status: 'captured' });
    t.is(trans.length, 1);
  });
}

test('pre-request after the payment (out of order) is not answered YES and changes nothing', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', { outOfOrder: true });
  t.deepEqual(p.deliveries.map((d) => d.kind), ['notification', 'prerequest']);
  t.is(p.deliveries[1]!.body, 'ERR: order is not payable');
  t.is((await order(c, orderId)).status, 'paid');
  t.is(await captures(c, attempt.id), 1);
});

test('delayed notification: the success return leaves the order processing until it arrives', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', { delayMs: 300 });
  await fetch(p.redirect, { redirect: 'manual' });
  t.is((await order(c, orderId)).status, 'processing');
  for (let i = 0; i < 100 && (await order(c, orderId)).status !== 'paid'; i++) await new Promise((r) => setTimeout(r, 50));
  t.is((await order(c, orderId)).status, 'paid');
});

test('never notified: the buyer-returned payment is canceled after the notification timeout', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const { orderId, attempt } = await startPayment(c);
  const p = await act(c.emu.url, await openForm(attempt.next_action), 'pay', { neverNotify: true });
  await fetch(p.redirect, { redirect: 'manual' });
  t.is((await order(c, orderId)).status, 'processing');
  c.hub.clock.advance(73 * 3600_000);
  await c.hub.runWorkers();
  const a = await c.hub.payments.getAttempt(attempt.id);
  t.is(a!.status, 'canceled');
  t.is(a!.declineReason, 'no_notification');
  // No longer in progress: payable again or, 73 hours on, expired.
  t.true(['created', 'expired'].includes((await order(c, orderId)).status));
  t.is(await captures(c, attempt.id), 0);
});

test('unknown payment number and malformed posts are refused', async (t) => {
  const c = await setup();
  t.teardown(() => c.close());
  const r = await c.hub.api('POST', '/callbacks/webmoney', { form: { LMI_PAYMENT_NO: '999999', LMI_HASH2: 'AA' } });
  t.is(r.status, 404);
  const pre = await c.hub.api('POST', '/callbacks/webmoney', { form: { LMI_PREREQUEST: '1', LMI_PAYMENT_NO: '999999' } });
  t.is(pre.text, 'ERR: unknown payment');
  const dup = await c.hub.api('POST', '/callbacks/webmoney', { raw: 'LMI_PAYMENT_NO=1&LMI_PAYMENT_NO=2', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  t.is(dup.status, 400);
});
