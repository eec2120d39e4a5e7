import test from 'ava';
import { definePlugin } from '@payhub/core';
import { OPERATOR } from '../src/operator';
import type { CreditOutcome, TopupOperator } from '../src/operator';
import { emulator, run, signed, startHub, terminal } from './helpers';

/*
 * A real hub (SQLite file, or PostgreSQL with PAYHUB_TEST_DB=postgres) with the card method, the sandbox bank and
 * mobile-topup loaded from its package folder; the sandbox operator's emulator is a real HTTP server on loopback.
 */

test('numbers: valid ones are normalised to E.164; invalid ones and numbers no operator serves are refused', async (t) => {
  const hub = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const ok = await hub.api('POST', '/v1/topups', { key: m.key, body: { msisdn: '+7 916 123-45-67', amount: 100_00 } });
  t.is(ok.status, 201, ok.text);
  t.is(ok.body.msisdn, '+79161234567');
  t.is(ok.body.operator, 'sandbox-operator');
  t.is(ok.body.status, 'awaiting_payment');
  t.regex(ok.body.pay_url, /\/pay\/ord_/);
  const national = await hub.api('POST', '/v1/topups', { key: m.key, body: { msisdn: '8 916 123 45 67', amount: 100_00 } });
  t.is(national.body.msisdn, '+79161234567');
  for (const bad of ['+7916123', 'abc', '', 79161234567]) {
    const r = await hub.api('POST', '/v1/topups', { key: m.key, body: { msisdn: bad, amount: 100_00 } });
    t.is(r.status, 422, `${bad} is refused`);
    t.is(r.body.errors[0].field, 'msisdn');
  }
  const landline = await hub.api('POST', '/v1/topups', { key: m.key, body: { msisdn: '+74951234567', amount: 100_00 } });
  t.is(landline.status, 422);
  t.is(landline.body.code, 'unknown_operator');
  const amount = await hub.api('POST', '/v1/topups', { key: m.key, body: { msisdn: '+79161234567', amount: 1.5 } });
  t.is(amount.body.errors[0].field, 'amount');
  t.is((await emulator(hub)).credits.length, 0);
  const read = await hub.api('GET', `/v1/topups/${ok.body.id}`, { key: m.key });
  t.is(read.body.id, ok.body.id);
  const other = await hub.createMerchant();
  t.is((await hub.api('GET', `/v1/topups/${ok.body.id}`, { key: other.key })).status, 404);
});

test('paid by card, then credited once; a declined credit refunds the order', async (t) => {
  const hub = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const tu = await hub.api('POST', '/v1/topups', { key: m.key, body: { msisdn: '+79161234567', amount: 150_00 } });
  await run(hub);
  t.is((await hub.api('GET', `/v1/topups/${tu.body.id}`, { key: m.key })).body.status, 'awaiting_payment');
  const pay = await hub.api('POST', `/v1/orders/${tu.body.order_id}/payments`, {
    key: m.key, body: { method: 'card', card: { number: '4111111111111111', exp_month: 12, exp_year: 2031, cvc: '123', holder: 'IVAN PETROV' } },
  });
  t.is(pay.body.status, 'captured', pay.text);
  await run(hub);
  const done = await hub.api('GET', `/v1/topups/${tu.body.id}`, { key: m.key });
  t.is(done.body.status, 'processed');
  t.truthy(done.body.operator_ref);
  await run(hub);
  const em = await emulator(hub);
  t.is(em.calls[tu.body.id], 1);
  t.deepEqual(em.credits.map((c) => c.reference), [tu.body.id]);

  const dec = await hub.api('POST', '/v1/topups', { key: m.key, body: { msisdn: '+79161239999', amount: 150_00 } });
  await hub.api('POST', `/v1/orders/${dec.body.order_id}/payments`, {
    key: m.key, body: { method: 'card', card: { number: '4111111111111111', exp_month: 12, exp_year: 2031, cvc: '123', holder: 'IVAN PETROV' } },
  });
  await run(hub);
  const declined = await hub.api('GET', `/v1/topups/${dec.body.id}`, { key: m.key });
  t.is(declined.body.status, 'declined');
  t.is(declined.body.decline_reason, 'subscriber_blocked');
  t.is(declined.body.refund_status, 'requested');
  const order = await hub.api('GET', `/v1/orders/${dec.body.order_id}`, { key: m.key });
  t.is(order.body.amount_refunded, 150_00);
});

test('an operator time-out is resolved by status(), never by a blind second credit', async (t) => {
  const hub = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const term = await terminal(hub, m.key);
  const r = await signed(hub, term, { msisdn: '+79161230000', amount: 500_00, receipt: 'R-1' });
  t.is(r.status, 201, r.text);
  t.is(r.body.status, 'unknown');
  await run(hub); // not due yet
  t.is((await hub.api('GET', `/v1/topups/${r.body.id}`, { key: m.key })).body.status, 'unknown');
  hub.clock.advance(10_000);
  await run(hub);
  t.is((await hub.api('GET', `/v1/topups/${r.body.id}`, { key: m.key })).body.status, 'processed');
  hub.clock.advance(60_000);
  await run(hub);
  const em = await emulator(hub);
  t.is(em.calls[r.body.id], 1, 'one credit call at the operator');
  t.is(em.credits.filter((c) => c.reference === r.body.id).length, 1);
});

test('a duplicate cash-in (same terminal and receipt) credits once, also when posted concurrently', async (t) => {
  const hub = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const term = await terminal(hub, m.key);
  const body = { msisdn: '+79161234567', amount: 200_00, receipt: 'R-77' };
  const first = await signed(hub, term, body);
  t.is(first.status, 201, first.text);
  t.is(first.body.status, 'processed');
  const again = await signed(hub, term, body);
  t.is(again.status, 200);
  t.true(again.body.duplicate);
  t.is(again.body.id, first.body.id);
  const both = await Promise.all([signed(hub, term, { ...body, receipt: 'R-78' }), signed(hub, term, { ...body, receipt: 'R-78' })]);
  t.deepEqual(both.map((b) => b.status).sort(), [200, 201]);
  t.is(both[0]!.body.id, both[1]!.body.id);
  const reused = await signed(hub, term, { ...body, amount: 300_00 });
  t.is(reused.status, 409);
  const em = await emulator(hub);
  t.is(em.credits.length, 2);
  t.is(em.calls[first.body.id], 1);
  t.is(em.calls[both[0]!.body.id], 1);
});

test('a forged, stale or unsigned terminal request is refused and credits nothing', async (t) => {
  const hub = await startHub();
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const term = await terminal(hub, m.key);
  const body = { msisdn: '+79161234567', amount: 200_00, receipt: 'R-1' };
  const forged = await signed(hub, term, body, { secret: 'not-the-secret' });
  t.is(forged.status, 401);
  t.is(forged.body.code, 'signature_invalid');
  const stale = await signed(hub, term, body, { ts: Math.floor(hub.clock.now().getTime() / 1000) - 301 });
  t.is(stale.status, 401);
  t.is(stale.body.code, 'signature_expired');
  const none = await hub.api('POST', '/v1/topup-terminals/cash-in', { body });
  t.is(none.status, 401);
  const unknownTerminal = await signed(hub, { id: 'trm_nope', secret: term.secret }, body);
  t.is(unknownTerminal.status, 401);
  t.is((await emulator(hub)).credits.length, 0);
  t.is((await hub.db('mobile_topup_topups')).length, 0);
  // The secret is not stored in clear.
  const row = await hub.db('mobile_topup_terminals').where({ id: term.id }).first();
  t.false(JSON.stringify(row).includes(term.secret));
  // Within the window the signature is accepted.
  const ok = await signed(hub, term, body, { ts: Math.floor(hub.clock.now().getTime() / 1000) - 290 });
  t.is(ok.status, 201, ok.text);
});

test('unknown → status says not_sent → the credit is sent again with the same reference', async (t) => {
  const calls: string[] = [];
  let credits = 0;
  const scripted: TopupOperator = {
    id: 'scripted', displayName: 'Scripted', prefixes: ['+7916555'],
    async credit(req): Promise<CreditOutcome> {
      calls.push(`credit:${req.reference}`);
      credits++;
      return credits === 1 ? { kind: 'unknown', reason: 'timeout' } : { kind: 'processed', operatorRef: 'x1' };
    },
    async status(ref): Promise<CreditOutcome> {
      calls.push(`status:${ref}`);
      return { kind: 'not_sent', reason: 'never seen' };
    },
  };
  const plugin = definePlugin<unknown>({ name: 'scripted-operator', version: '1.0.0', core: '^1.0.0', register(ctx) { ctx.provide<TopupOperator>(OPERATOR, { useValue: scripted }); } });
  const hub = await startHub({ inline: [plugin] });
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const term = await terminal(hub, m.key);
  const r = await signed(hub, term, { msisdn: '+79165551234', amount: 100_00, receipt: 'S-1' });
  t.is(r.body.operator, 'scripted', 'the longest prefix wins');
  t.is(r.body.status, 'unknown');
  hub.clock.advance(10_000);
  await run(hub);
  t.is((await hub.api('GET', `/v1/topups/${r.body.id}`, { key: m.key })).body.status, 'processed');
  t.deepEqual(calls, [`credit:${r.body.id}`, `status:${r.body.id}`, `credit:${r.body.id}`]);
});

test('public page: the form creates the order for the top-up merchant and redirects to its payment page', async (t) => {
  const first = await startHub();
  const m = await first.createMerchant({ name: 'Top-ups' });
  const off = await first.api('GET', '/topup');
  t.is(off.status, 404);
  await first.close({ keepDatabase: true });
  const hub = await startHub({ options: { merchantId: m.id }, databaseUrl: first.databaseUrl });
  t.teardown(() => hub.close());
  const page = await hub.api('GET', '/topup');
  t.is(page.status, 200);
  t.regex(page.text, /name="phone"/);
  const post = await hub.api('POST', '/topup', { form: { phone: '+7 916 123 45 67', amount: '150.00' } });
  t.is(post.status, 303, post.text);
  t.regex(post.headers.location!, /\/pay\/ord_/);
  const orderId = post.headers.location!.split('/pay/')[1]!;
  // (The restarted test hub has a new master key, so the merchant's API key is not used here.)
  const order = await hub.payments.getOrder(orderId);
  t.is(order?.amount, 150_00);
  t.is(order?.merchantId, m.id);
  const bad = await hub.api('POST', '/topup', { form: { phone: '12', amount: '150.00' } });
  t.is(bad.status, 422);
  t.regex(bad.text, /Phone number/);
  t.regex(bad.text, /value="12"/);
});
