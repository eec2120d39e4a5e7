import test from 'ava';
import { TOKENS } from '@payhub/core';
import { attemptsOf, card, leaks, newOrder, pay, startHub } from './helpers/hub';

/*
 * End to end through a real hub (SQLite file, or PostgreSQL with PAYHUB_TEST_DB=postgres), the real sandbox-bank
 * emulator over HTTP, and the card plugin as loaded from its package folder.
 */

const VISA = '4111111111111111';
const MC = '5555555555554444';
const MIR = '2200000000000004';
const DECLINE = '4000000000000002';
const NO_FUNDS = '4000000000009995';
const CHALLENGE = '4000000000003220';
const LOST = '4000000000000119';
const PREPAID = '5105105105105100';
const PAYROLL = '2202200000000008';

test('approved card, one stage: the order is paid; only masked data comes back and is stored', async (t) => {
  const { hub, spy } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o = await newOrder(hub, m.key, { amount: 125_00 });
  const r = await hub.api('POST', `/v1/orders/${o.id}/payments`, {
    key: m.key, headers: { 'Idempotency-Key': 'card-pay-1' }, body: { method: 'card', card: card('4111 1111 1111 1111', '947') },
  });
  t.is(r.status, 201, r.text);
  // A retry with the same key replays the stored answer (the idempotency store is part of the leak scan below).
  const replay = await hub.api('POST', `/v1/orders/${o.id}/payments`, {
    key: m.key, headers: { 'Idempotency-Key': 'card-pay-1' }, body: { method: 'card', card: card('4111 1111 1111 1111', '947') },
  });
  t.is(replay.body.id, r.body.id);
  t.is(r.body.status, 'captured');
  t.is(r.body.method, 'card');
  t.is(r.body.details.masked, '411111******1111');
  t.is(r.body.details.brand, 'visa');
  t.is(r.body.details.last4, '1111');
  t.is(r.body.details.product_type, 'credit');
  t.regex(r.body.details.fingerprint, /^[0-9a-f]{64}$/);
  t.false(r.text.includes(VISA));
  t.false(r.text.includes('"947"'), 'the CVC is not echoed');
  t.false(/"cvc"/.test(r.text));
  const auth = spy.calls.find((c) => c.op === 'authorize')!;
  t.is(auth.reference, r.body.id, 'the bank reference is the attempt id');
  t.true(auth.capture);
  t.is(auth.amount, 125_00);
  t.is(auth.returnUrl, `${hub.container.resolve(TOKENS.Runtime).baseUrl()}/return/${r.body.id}`);
  const order = await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.is(order.body.status, 'paid');
  t.is(order.body.amount_captured, 125_00);
  t.deepEqual(await leaks(hub, [VISA, '4111 1111 1111 1111'], ['947']), []);
});

test('each supported brand of the sandbox is approved (Mastercard, MIR)', async (t) => {
  const { hub } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  for (const [pan, brand] of [[MC, 'mastercard'], [MIR, 'mir']] as const) {
    const o = await newOrder(hub, m.key);
    const r = await pay(hub, m.key, o.id, { card: card(pan, '863') });
    t.is(r.status, 201, r.text);
    t.is(r.body.status, 'captured');
    t.is(r.body.details.brand, brand);
  }
  t.deepEqual(await leaks(hub, [MC, MIR], ['863']), []);
});

test('declined card: the order stays payable with the decline reason; the card can be retried with another card', async (t) => {
  const { hub } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o = await newOrder(hub, m.key);
  const r = await pay(hub, m.key, o.id, { card: card(DECLINE, '758') });
  t.is(r.status, 201, r.text);
  t.is(r.body.status, 'declined');
  t.is(r.body.decline_reason, 'do_not_honor');
  t.is((await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'created');

  const r2 = await pay(hub, m.key, o.id, { card: card(NO_FUNDS, '758') });
  t.is(r2.body.status, 'declined');
  t.is(r2.body.decline_reason, 'insufficient_funds');

  const r3 = await pay(hub, m.key, o.id, { card: card(VISA, '758') });
  t.is(r3.body.status, 'captured');
  t.is((await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'paid');
  t.deepEqual(await leaks(hub, [DECLINE, NO_FUNDS, VISA], ['758']), []);
});

test('expired, Luhn-invalid or malformed cards: 422 naming the field, no attempt row, no bank call', async (t) => {
  const { hub, spy } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o = await newOrder(hub, m.key);
  const now = hub.clock.now();
  const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  const cases: Array<[Record<string, unknown>, string]> = [
    [card(VISA, '461', { exp_month: lastMonth.getUTCMonth() + 1, exp_year: lastMonth.getUTCFullYear() }), 'card.exp_year'],
    [card('4111111111111112', '461'), 'card.number'],
    [card('378282246310005', '4612'), 'card.number'],
    [card(VISA, '46'), 'card.cvc'],
    [card(VISA, '461', { holder: 'Иван' }), 'card.holder'],
  ];
  for (const [c, field] of cases) {
    const r = await pay(hub, m.key, o.id, { card: c });
    t.is(r.status, 422, r.text);
    t.true(JSON.stringify(r.body).includes(field), `names ${field}: ${r.text}`);
    t.false(r.text.includes(String(c.number)), 'the number is not echoed');
    t.false(r.text.includes('"461"'), 'the CVC is not echoed');
  }
  t.is(await attemptsOf(hub, o.id), 0);
  t.deepEqual(spy.calls, [], 'the bank saw nothing');
  t.is((await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'created');
  t.deepEqual(await leaks(hub, [VISA, '4111111111111112', '378282246310005'], ['461', '4612']), []);
});

test('expiry is judged by the hub clock: a card valid this month is refused once the clock passes its month', async (t) => {
  const { hub, spy } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const now = hub.clock.now();
  const thisMonth = { exp_month: now.getUTCMonth() + 1, exp_year: now.getUTCFullYear() };
  const o1 = await newOrder(hub, m.key);
  const ok = await pay(hub, m.key, o1.id, { card: card(VISA, '461', thisMonth) });
  t.is(ok.body.status, 'captured', ok.text);
  hub.clock.set(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1, 0, 0, 1)));
  const o2 = await newOrder(hub, m.key);
  const calls = spy.calls.length;
  const late = await pay(hub, m.key, o2.id, { card: card(VISA, '461', thisMonth) });
  t.is(late.status, 422, late.text);
  t.true(JSON.stringify(late.body).includes('card.exp_year'));
  t.is(spy.calls.length, calls);
  t.is(await attemptsOf(hub, o2.id), 0);
});

test('two-stage: authorize, capture part of it later, then refund', async (t) => {
  const { hub, spy } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o = await newOrder(hub, m.key, { amount: 300_00, capture: 'manual' });
  const r = await pay(hub, m.key, o.id, { card: card(MC, '582') });
  t.is(r.status, 201, r.text);
  t.is(r.body.status, 'authorized');
  t.false(spy.calls.find((c) => c.op === 'authorize')!.capture!);
  t.is((await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'authorized');

  const cap = await hub.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, body: { amount: 120_00 } });
  t.is(cap.status, 200, cap.text);
  const capCall = spy.calls.find((c) => c.op === 'capture')!;
  t.is(capCall.amount, 120_00);
  t.is(capCall.reference, r.body.id);
  const after = await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.is(after.body.status, 'paid');
  t.is(after.body.amount_captured, 120_00);

  const ref = await hub.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 20_00 } });
  t.is(ref.status, 201, ref.text);
  t.is(ref.body.status, 'succeeded');
  const refundCall = spy.calls.find((c) => c.op === 'refund')!;
  t.is(refundCall.amount, 20_00);
  t.is(refundCall.reference, r.body.id);
  t.is((await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.amount_refunded, 20_00);
  t.deepEqual(await leaks(hub, [MC], ['582']), []);
});

test('two-stage: cancel voids the authorization', async (t) => {
  const { hub, spy } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o = await newOrder(hub, m.key, { capture: 'manual' });
  const r = await pay(hub, m.key, o.id, { card: card(VISA, '394') });
  t.is(r.body.status, 'authorized');
  const c = await hub.api('POST', `/v1/orders/${o.id}/cancel`, { key: m.key });
  t.is(c.status, 200, c.text);
  t.true(spy.bankOps().includes('void'));
  const after = await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.is(after.body.status, 'canceled');
  t.is(after.body.payments[0].status, 'canceled');
});

test('3-D Secure: requires_action with the bank challenge; the buyer comes back and the order is paid', async (t) => {
  const { hub } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o = await newOrder(hub, m.key);
  const r = await pay(hub, m.key, o.id, { card: card(CHALLENGE, '275') });
  t.is(r.status, 201, r.text);
  t.is(r.body.status, 'requires_action');
  t.is(r.body.next_action.type, 'redirect');
  const challengeUrl: string = r.body.next_action.url;
  t.regex(challengeUrl, /\/3ds\//);
  // The buyer enters the one-time code on the bank's page; the bank sends them back to the hub.
  const submit = await fetch(challengeUrl, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'code=123456',
  });
  t.is(submit.status, 302);
  const back = submit.headers.get('location')!;
  t.is(back, `${hub.container.resolve(TOKENS.Runtime).baseUrl()}/return/${r.body.id}`);
  await fetch(back, { redirect: 'manual' });
  const order = await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.is(order.body.status, 'paid');
  t.is(order.body.payments[0].status, 'captured');

  // A wrong one-time code: the payment is declined and the order can be paid again.
  const o2 = await newOrder(hub, m.key);
  const w = await pay(hub, m.key, o2.id, { card: card(CHALLENGE, '275') });
  t.is(w.body.status, 'requires_action', w.text);
  const wrong = await fetch(w.body.next_action.url, {
    method: 'POST', redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'code=000000',
  });
  t.is(wrong.status, 302);
  await fetch(wrong.headers.get('location')!, { redirect: 'manual' });
  const order2 = await hub.api('GET', `/v1/orders/${o2.id}`, { key: m.key });
  t.is(order2.body.payments[0].status, 'declined');
  t.is(order2.body.status, 'created');
  t.deepEqual(await leaks(hub, [CHALLENGE], ['275']), []);
});

test('lost bank answer: the attempt is unknown, then resolved by status() to the bank truth', async (t) => {
  const { hub, spy } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o = await newOrder(hub, m.key);
  const r = await pay(hub, m.key, o.id, { card: card(LOST, '318') });
  t.is(r.status, 201, r.text);
  t.is(r.body.status, 'unknown');
  const resolved = await hub.payments.resolveAttempt(r.body.id);
  t.true(spy.bankOps().includes('status'));
  t.is(resolved.status, 'captured');
  t.is((await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'paid');
  t.deepEqual(await leaks(hub, [LOST], ['318']), []);
});

test('saved cards: save_card returns a token; the same merchant pays with it; another merchant gets 422', async (t) => {
  const { hub, spy } = await startHub();
  t.teardown(() => hub.close());
  const a = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const b = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o1 = await newOrder(hub, a.key);
  const r1 = await pay(hub, a.key, o1.id, { card: card(VISA, '629'), save_card: true });
  t.is(r1.status, 201, r1.text);
  t.is(r1.body.status, 'captured');
  const token: string = r1.body.details.card_token;
  t.regex(token, /^ctok_/);
  const stored = await hub.db('card_vault').where({ token }).first();
  t.is(stored.merchant_id, a.id);
  t.is(stored.masked, '411111******1111');

  // Saving the same card again gives the same token.
  const o2 = await newOrder(hub, a.key);
  const r2 = await pay(hub, a.key, o2.id, { card: card(VISA, '629'), save_card: true });
  t.is(r2.body.details.card_token, token);
  t.is(Number((await hub.db('card_vault').count({ n: '*' }))[0]!.n), 1);

  // Pay with the token, without and with a CVC.
  const o3 = await newOrder(hub, a.key, { amount: 77_00 });
  const r3 = await pay(hub, a.key, o3.id, { card_token: token });
  t.is(r3.status, 201, r3.text);
  t.is(r3.body.status, 'captured');
  t.is(r3.body.details.masked, '411111******1111');
  t.is(spy.calls.filter((c) => c.op === 'authorize').at(-1)!.source, 'card_token');
  const o4 = await newOrder(hub, a.key);
  const r4 = await pay(hub, a.key, o4.id, { card_token: token, cvc: '629' });
  t.is(r4.body.status, 'captured');

  // Another merchant cannot use it, and learns nothing about it.
  const callsBefore = spy.calls.length;
  const ob = await newOrder(hub, b.key);
  const rb = await pay(hub, b.key, ob.id, { card_token: token });
  t.is(rb.status, 422, rb.text);
  t.true(JSON.stringify(rb.body).includes('card_token'));
  t.false(rb.text.includes('411111'));
  t.is(await attemptsOf(hub, ob.id), 0);
  t.is(spy.calls.length, callsBefore);

  // An unknown token is refused the same way.
  const o5 = await newOrder(hub, a.key);
  const rx = await pay(hub, a.key, o5.id, { card_token: 'ctok_0000000000000000000000' });
  t.is(rx.status, 422, rx.text);
  t.true(JSON.stringify(rx.body).includes('card_token'));

  t.deepEqual(await leaks(hub, [VISA], ['629']), []);
});

test('a declined card is not saved', async (t) => {
  const { hub } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o = await newOrder(hub, m.key);
  const r = await pay(hub, m.key, o.id, { card: card(DECLINE, '517'), save_card: true });
  t.is(r.body.status, 'declined');
  t.is(r.body.details.card_token, null);
  t.is(Number((await hub.db('card_vault').count({ n: '*' }))[0]!.n), 0);
});

test('raw card data over the API: refused for a live merchant without permission, allowed with it', async (t) => {
  const { hub, spy } = await startHub();
  t.teardown(() => hub.close());
  const live = await hub.createMerchant({ bankAdapter: 'spy-bank', mode: 'live' });
  const o = await newOrder(hub, live.key);
  const r = await pay(hub, live.key, o.id, { card: card(VISA, '843') });
  t.is(r.status, 403, r.text);
  t.true(r.text.includes('direct_card_input_not_allowed'));
  t.is(await attemptsOf(hub, o.id), 0);
  t.deepEqual(spy.calls, []);

  const allowed = await hub.createMerchant({ bankAdapter: 'spy-bank', mode: 'live', directCardInput: true });
  const o2 = await newOrder(hub, allowed.key);
  const r2 = await pay(hub, allowed.key, o2.id, { card: card(VISA, '843') });
  t.is(r2.status, 201, r2.text);
  t.is(r2.body.status, 'captured');

  // The payment page (source 'page') is always allowed, and requires the holder name.
  const o3 = await newOrder(hub, live.key);
  await t.throwsAsync(hub.payments.startAttempt({ merchantId: live.id, orderId: o3.id, method: 'card', source: 'page', input: { card: card(VISA, '843', { holder: undefined }) } }),
    { message: /card\.holder/ });
  const a3 = await hub.payments.startAttempt({ merchantId: live.id, orderId: o3.id, method: 'card', source: 'page', input: { card: card(VISA, '843') } });
  t.is(a3.status, 'captured');
  t.deepEqual(await leaks(hub, [VISA], ['843']), []);
});

test('settings: accepted brands and refused product types are enforced before the bank is asked to pay', async (t) => {
  const { hub, spy } = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant({ bankAdapter: 'spy-bank' });

  // Default: payroll (and prepaid) accepted.
  const o0 = await newOrder(hub, m.key);
  const r0 = await pay(hub, m.key, o0.id, { card: card(PAYROLL, '135') });
  t.is(r0.status, 201, r0.text);
  t.is(r0.body.details.product_type, 'payroll');

  const bad = await hub.api('PUT', '/v1/payment-methods/card/settings', { key: m.key, body: { acceptedBrands: ['amex'] } });
  t.is(bad.status, 422);
  const put = await hub.api('PUT', '/v1/payment-methods/card/settings', { key: m.key, body: { acceptedBrands: ['visa', 'mastercard'], refusedProductTypes: ['prepaid'] } });
  t.is(put.status, 200, put.text);

  const o = await newOrder(hub, m.key);
  const before = spy.bankOps().length;
  const mir = await pay(hub, m.key, o.id, { card: card(MIR, '135') });
  t.is(mir.status, 422, mir.text);
  t.true(JSON.stringify(mir.body).includes('card.number'));
  const prepaid = await pay(hub, m.key, o.id, { card: card(PREPAID, '135') });
  t.is(prepaid.status, 422, prepaid.text);
  t.true(JSON.stringify(prepaid.body).includes('card.number'));
  t.regex(JSON.stringify(prepaid.body), /prepaid/);
  t.is(spy.bankOps().length, before, 'no payment call for refused cards');
  t.is(await attemptsOf(hub, o.id), 0);

  const ok = await pay(hub, m.key, o.id, { card: card(MC, '135') });
  t.is(ok.body.status, 'captured');
  t.deepEqual(await leaks(hub, [MIR, PREPAID, MC, PAYROLL], ['135']), []);
});
