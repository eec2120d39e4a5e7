import test from 'ava';
import { createTestDatabase, createTestHub, testDbKind, type TestHub } from '@payhub/core';
import { repoPlugin } from '../helpers/paths';
import { findInClear } from '../helpers/scan';

/*
 * PCI: after a mix of card flows (approved, declined, invalid input, 3-D Secure, two-stage, refunds, saved card,
 * idempotent replays) no card number appears in clear and no CVC-bearing value anywhere: database values, the raw
 * SQLite file and its WAL, and every log line.
 */
const PANS = ['4111111111111111', '5555555555554444', '2200000000000004', '4000000000000002', '4000000000003220', '4242424242424241', '4000000000009995'];
const CVC_VALUES = ['"cvc":"731"', '"cvc":"8642"', 'cvc=731'];

async function flows(hub: TestHub) {
  const m = await hub.createMerchant();
  const card = (number: string, cvc = '731') => ({ number, exp_month: 12, exp_year: new Date().getUTCFullYear() + 2, cvc, holder: 'IVAN PETROV' });
  let n = 0;
  const order = async (capture: 'automatic' | 'manual' = 'automatic') =>
    (await hub.api('POST', '/v1/orders', { key: m.key, body: { order_number: `scan-${++n}`, amount: 10_000, currency: 'RUB', capture } })).body.id as string;
  const pay = (id: string, body: Record<string, unknown>, key?: string) =>
    hub.api('POST', `/v1/orders/${id}/payments`, { key: m.key, body: { method: 'card', ...body }, headers: key ? { 'Idempotency-Key': key } : {} });

  const o1 = await order();
  const p1 = await pay(o1, { card: card(PANS[0]!), save_card: true }, 'k1');
  await pay(o1, { card: card(PANS[0]!), save_card: true }, 'k1');
  await hub.api('POST', `/v1/orders/${o1}/refunds`, { key: m.key, body: { amount: 3000 } });
  const o2 = await order('manual');
  await pay(o2, { card: card(PANS[1]!, '8642') });
  await hub.api('POST', `/v1/orders/${o2}/capture`, { key: m.key, body: { amount: 5000 } });
  const o3 = await order();
  await pay(o3, { card: card(PANS[3]!) });
  await pay(o3, { card: card(PANS[6]!) });
  await pay(o3, { card: card(PANS[5]!) });
  await pay(o3, { card: { ...card(PANS[2]!), exp_year: 2001 } });
  const o4 = await order();
  await pay(o4, { card: card(PANS[4]!) });
  const token = p1.body.details?.card_token as string | undefined;
  if (token) {
    const o5 = await order();
    await pay(o5, { card_token: token, cvc: '731' });
  }
  await hub.runWorkers();
  return { paid: p1.body.status };
}

test('no card number or CVC in clear in the database, its files, or the logs', async (t) => {
  const dbase = await createTestDatabase(testDbKind());
  const hub = await createTestHub({ databaseUrl: dbase.url, plugins: [{ resolve: repoPlugin('sandbox-bank') }, { resolve: repoPlugin('card') }] });
  t.teardown(async () => {
    await hub.close().catch(() => undefined);
    await dbase.drop();
  });
  const r = await flows(hub);
  t.is(r.paid, 'captured', 'the flows really ran');
  const sqliteFile = dbase.url.startsWith('sqlite:') ? dbase.url.slice('sqlite:'.length) : undefined;
  const found = await findInClear(hub.db, [...PANS, ...CVC_VALUES], { sqliteFile, logs: hub.logs });
  t.deepEqual(found, []);
  t.true(hub.logs.length > 10, 'logs were captured');
  const masked = (await hub.db('payment_attempts').select('method_data')).map((x: { method_data: string }) => x.method_data).join();
  t.regex(masked, /411111\*{6}1111/);
});

test('the scanner does find a planted number (it can fail)', async (t) => {
  const hub = await createTestHub();
  t.teardown(() => hub.close());
  await hub.db('audit_log').insert({ actor: 'test', action: 'plant', data: JSON.stringify({ pan: PANS[0] }), at: new Date().toISOString() });
  const found = await findInClear(hub.db, [PANS[0]!], { logs: ['x'] });
  t.is(found.length, 1);
  t.regex(found[0]!, /audit_log\.data/);
});
