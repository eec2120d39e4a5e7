import test from 'ava';
import { DECLINE, MC, MIR, VISA, denied, order, pay, payOrder, setRules, startHub } from './helpers';

/*
 * Through a real hub (SQLite file, or PostgreSQL with PAYHUB_TEST_DB=postgres), the real sandbox-bank emulator,
 * the card plugin and transaction-control loaded from their package folders. A spy adapter over the sandbox bank
 * records which attempts reached the bank.
 */

const MIN = 60_000;

test('card velocity: N attempts in the window pass, the N+1st is denied and never reaches the bank; the window slides', async (t) => {
  const { hub, spy, m } = await startHub();
  t.teardown(() => hub.close());
  await setRules(hub, m.key, { velocity: [{ key: 'card', max_attempts: 3, window_minutes: 10 }] });
  for (let i = 0; i < 3; i++) {
    const p = await pay(hub, m.key);
    t.is(p.status, 'captured', `attempt ${i + 1} passes`);
  }
  const fourth = await pay(hub, m.key);
  t.true(denied(fourth));
  t.false(spy.authorized().includes(fourth.id), 'a denied attempt never reaches the bank');
  t.is(spy.authorized().length, 3);
  // Another card is not affected.
  t.is((await pay(hub, m.key, { pan: MC })).status, 'captured');
  // Inside the window: still over the limit (the 4th attempt counts too). The clock also runs in real time, so
  // the margins below leave room for a slow database.
  hub.clock.advance(9 * MIN);
  t.true(denied(await pay(hub, m.key)));
  // The first three attempts leave the window: 2 remain in it (the denied ones) + this one = 3.
  hub.clock.advance(MIN + 30_000);
  t.is((await pay(hub, m.key)).status, 'captured');
  const d = await hub.api('GET', `/v1/risk/decisions?payment_id=${fourth.id}`, { key: m.key });
  t.is(d.body.data.length, 1);
  t.is(d.body.data[0].decision, 'deny');
  t.deepEqual(d.body.data[0].rules, [{ rule: 'velocity_card', action: 'deny', value: 4, threshold: { max_attempts: 3, window_minutes: 10 } }]);
});

test('e-mail and IP velocity count across cards', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  await setRules(hub, m.key, { velocity: [{ key: 'email', max_attempts: 2, window_minutes: 60 }, { key: 'ip', max_attempts: 3, window_minutes: 60, action: 'review' }] });
  t.is((await pay(hub, m.key, { email: 'Buyer@Example.com', pan: VISA, ip: '203.0.113.7' })).status, 'captured');
  t.is((await pay(hub, m.key, { email: 'buyer@example.com', pan: MC, ip: '203.0.113.7' })).status, 'captured');
  const third = await pay(hub, m.key, { email: 'buyer@example.com', pan: MIR, ip: '198.51.100.1' });
  t.true(denied(third), 'the third attempt with one e-mail (case-insensitive) is denied');
  // IP: 2 attempts from 203.0.113.7 so far; the 3rd passes, the 4th goes to review (authorized only).
  t.is((await pay(hub, m.key, { email: 'other@example.com', ip: '203.0.113.7' })).status, 'captured');
  const fourth = await pay(hub, m.key, { email: 'third@example.com', pan: MC, ip: '203.0.113.7' });
  t.is(fourth.status, 'authorized');
  t.is(fourth.details.risk_review, 'pending');
});

test('amount per transaction and per day fire above the limit, not at it', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  await setRules(hub, m.key, {
    amount_per_transaction: [{ currency: 'RUB', max: 5000 }],
    amount_per_day: [{ currency: 'RUB', max: 8000 }],
  });
  hub.clock.set(new Date(Date.UTC(2031, 0, 10, 12, 0, 0)));
  t.true(denied(await pay(hub, m.key, { amount: 5001 })));
  t.is((await pay(hub, m.key, { amount: 5000 })).status, 'captured');
  // A declined attempt does not count toward the day.
  t.is((await pay(hub, m.key, { amount: 2000, pan: DECLINE })).decline_reason, 'do_not_honor');
  t.is((await pay(hub, m.key, { amount: 3000, pan: MC })).status, 'captured'); // 8000 = the limit
  t.true(denied(await pay(hub, m.key, { amount: 1, pan: MIR })));
  // Another currency is not limited.
  t.is((await pay(hub, m.key, { amount: 1, currency: 'USD', pan: MIR })).status, 'captured');
  // The next UTC day starts at zero.
  hub.clock.set(new Date(Date.UTC(2031, 0, 11, 0, 0, 1)));
  t.is((await pay(hub, m.key, { amount: 5000, pan: MIR })).status, 'captured');
});

test('repeated declines of one card: K declines in the window deny the next attempt; K-1 do not', async (t) => {
  const { hub, spy, m } = await startHub();
  t.teardown(() => hub.close());
  await setRules(hub, m.key, { card_declines: { max_declines: 2, window_minutes: 30 } });
  const first = await pay(hub, m.key, { pan: DECLINE });
  t.is(first.decline_reason, 'do_not_honor');
  const second = await pay(hub, m.key, { pan: DECLINE });
  t.is(second.decline_reason, 'do_not_honor', 'one decline so far: the attempt reaches the bank');
  t.true(spy.authorized().includes(second.id));
  const third = await pay(hub, m.key, { pan: DECLINE });
  t.true(denied(third));
  t.false(spy.authorized().includes(third.id));
  // Other cards are fine; after the window the card may try again.
  t.is((await pay(hub, m.key, { pan: VISA })).status, 'captured');
  hub.clock.advance(31 * MIN);
  t.is((await pay(hub, m.key, { pan: DECLINE })).decline_reason, 'do_not_honor');
});

test('card country and brand lists', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  await setRules(hub, m.key, { card_country: { allowed: ['KZ'] } });
  const p = await pay(hub, m.key);
  t.true(denied(p), 'sandbox cards are issued in RU');
  await setRules(hub, m.key, { card_country: { allowed: ['RU', 'KZ'] }, card_brand: { blocked: ['mir'], action: 'review' } });
  t.is((await pay(hub, m.key, { pan: VISA })).status, 'captured');
  const mir = await pay(hub, m.key, { pan: MIR });
  t.is(mir.status, 'authorized');
  t.is(mir.details.risk_review, 'pending');
});

test('block lists: card fingerprint, e-mail, IP range', async (t) => {
  const { hub, spy, m } = await startHub();
  t.teardown(() => hub.close());
  const ok = await pay(hub, m.key, { pan: MC });
  const fp = ok.details.fingerprint as string;
  t.regex(fp, /^[0-9a-f]{64}$/);
  await setRules(hub, m.key, { blocklist: { card_fingerprints: [fp], emails: ['fraud@example.com'], ip_ranges: ['10.1.0.0/16', '2001:db8::/32'] } });
  t.true(denied(await pay(hub, m.key, { pan: MC })));
  t.true(denied(await pay(hub, m.key, { email: 'FRAUD@example.com' })));
  t.true(denied(await pay(hub, m.key, { ip: '10.1.200.3' })));
  t.true(denied(await pay(hub, m.key, { ip: '2001:db8::42' })));
  t.is((await pay(hub, m.key, { ip: '10.2.0.1', email: 'fine@example.com' })).status, 'captured');
  t.is(spy.authorized().length, 2);
  const list = await hub.api('GET', '/v1/risk/decisions?decision=deny&rule=blocklist_ip', { key: m.key });
  t.is(list.body.data.length, 2);
});

test('card country against the IP country from the merchant table', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  const up = await hub.api('PUT', '/v1/risk/ip-countries', { key: m.key, body: { ranges: [{ cidr: '203.0.113.0/24', country: 'DE' }, { cidr: '198.51.100.0/24', country: 'RU' }] } });
  t.is(up.status, 200, up.text);
  t.is(up.body.count, 2);
  await setRules(hub, m.key, { country_mismatch: { action: 'review' } });
  const de = await pay(hub, m.key, { ip: '203.0.113.9' });
  t.is(de.status, 'authorized');
  t.is(de.details.risk_review, 'pending');
  t.is((await pay(hub, m.key, { ip: '198.51.100.9' })).status, 'captured');
  t.is((await pay(hub, m.key, { ip: '192.0.2.1' })).status, 'captured', 'an unknown IP country does not fire');
  const bad = await hub.api('PUT', '/v1/risk/ip-countries', { key: m.key, body: { ranges: [{ cidr: '1.2.3.0/40', country: 'DE' }] } });
  t.is(bad.status, 422);
  t.is(bad.body.errors[0].field, 'ranges.0.cidr');
});

test('review → approve → paid; review → reject → canceled (voided at the bank)', async (t) => {
  const { hub, spy, m } = await startHub();
  t.teardown(() => hub.close());
  await setRules(hub, m.key, { amount_per_transaction: [{ currency: 'RUB', max: 100, action: 'review' }] });
  const a = await pay(hub, m.key, { amount: 500 });
  t.is(a.status, 'authorized');
  const approve = await hub.api('POST', `/v1/orders/${a.orderId}/review`, { key: m.key, body: { decision: 'approve' } });
  t.is(approve.status, 200, approve.text);
  t.is(approve.body.status, 'paid');
  const b = await pay(hub, m.key, { amount: 500, pan: MC });
  const reject = await hub.api('POST', `/v1/orders/${b.orderId}/review`, { key: m.key, body: { decision: 'reject' } });
  t.is(reject.status, 200, reject.text);
  t.is(reject.body.status, 'canceled');
  t.is(reject.body.payments[0].decline_reason, 'risk_rejected');
  t.deepEqual(spy.calls.filter((c) => c.reference === b.id).map((c) => c.op), ['authorize', 'void']);
  const reviews = await hub.api('GET', '/v1/risk/decisions?decision=review', { key: m.key });
  t.is(reviews.body.data.length, 2);
  t.is(reviews.body.data[0].rules[0].rule, 'amount_per_transaction');
});

test('10 concurrent attempts of one card (different orders) with a velocity limit of 3: exactly 3 pass', async (t) => {
  const { hub, spy, m } = await startHub();
  t.teardown(() => hub.close());
  await setRules(hub, m.key, { velocity: [{ key: 'card', max_attempts: 3, window_minutes: 60 }] });
  const orders = await Promise.all(Array.from({ length: 10 }, () => order(hub, m.key)));
  const results = await Promise.all(orders.map((o) => payOrder(hub, m.key, o)));
  t.is(results.filter((p) => p.status === 'captured').length, 3);
  t.is(results.filter(denied).length, 7);
  t.is(spy.authorized().length, 3);
  const rows = await hub.db('transaction_control_checks').where({ merchant_id: m.id });
  t.is(rows.length, 10);
});

test('rules API: validation names the field; decisions list pages with a cursor; merchants are separate', async (t) => {
  const { hub, m } = await startHub();
  t.teardown(() => hub.close());
  const bad = await hub.api('PUT', '/v1/risk/rules', { key: m.key, body: { velocity: [{ key: 'card', max_attempts: 0, window_minutes: 5 }] } });
  t.is(bad.status, 422);
  t.is(bad.body.errors[0].field, 'velocity.0.max_attempts');
  const unknown = await hub.api('PUT', '/v1/risk/rules', { key: m.key, body: { no_such_rule: true } });
  t.is(unknown.status, 422);
  const empty = await hub.api('GET', '/v1/risk/rules', { key: m.key });
  t.deepEqual(empty.body.rules.velocity, []);
  t.is((await hub.api('GET', '/v1/risk/rules')).status, 401);
  for (let i = 0; i < 3; i++) await pay(hub, m.key);
  const p1 = await hub.api('GET', '/v1/risk/decisions?limit=2', { key: m.key });
  t.is(p1.body.data.length, 2);
  t.true(p1.body.has_more);
  const p2 = await hub.api('GET', `/v1/risk/decisions?limit=2&starting_after=${p1.body.next_cursor}`, { key: m.key });
  t.is(p2.body.data.length, 1);
  t.false(p2.body.has_more);
  t.is(new Set([...p1.body.data, ...p2.body.data].map((d: { id: string }) => d.id)).size, 3);
  const other = await hub.createMerchant({ bankAdapter: 'spy-bank' });
  t.is((await hub.api('GET', '/v1/risk/decisions', { key: other.key })).body.data.length, 0);
});
