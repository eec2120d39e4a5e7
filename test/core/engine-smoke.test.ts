import test from 'ava';
import { createTestDatabase, createTestHub } from '@payhub/core';
import { scriptedMethodPlugin } from '../helpers/inline-method';

test('an order is created, paid and refunded through the engine', async (t) => {
  const hub = await createTestHub({ inlinePlugins: [scriptedMethodPlugin()] });
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const o = await hub.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'A-1', amount: 12345, currency: 'RUB' } });
  t.is(o.status, 201, o.text);
  t.is(o.body.status, 'created');
  const p = await hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: m.key, body: { method: 'scripted' } });
  t.is(p.status, 201, p.text);
  t.is(p.body.status, 'captured');
  const g = await hub.api('GET', `/v1/orders/${o.body.id}`, { key: m.key });
  t.is(g.body.status, 'paid');
  const r = await hub.api('POST', `/v1/orders/${o.body.id}/refunds`, { key: m.key, body: { amount: 345 } });
  t.is(r.status, 201, r.text);
  const b = await hub.api('GET', '/v1/balance', { key: m.key });
  t.deepEqual(b.body.balances, [{ currency: 'RUB', pending: 0, available: 12000 }]);
});

test('finished idempotency records are kept at least the retention, then pruned', async (t) => {
  const hub = await createTestHub({ inlinePlugins: [scriptedMethodPlugin()] });
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const r = await hub.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'keep-me' }, body: { order_number: 'I-1', amount: 100, currency: 'RUB' } });
  t.is(r.status, 201);
  hub.clock.advance(71 * 3_600_000);
  await hub.runWorkers();
  const replay = await hub.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': 'keep-me' }, body: { order_number: 'I-1', amount: 100, currency: 'RUB' } });
  t.is(replay.headers['idempotent-replayed'], 'true');
  hub.clock.advance(2 * 3_600_000);
  await hub.runWorkers();
  t.is((await hub.db('idempotency_keys').where({ key: 'keep-me' })).length, 0);
});

test('better-sqlite3 can be selected as the SQLite driver', async (t) => {
  const dbase = await createTestDatabase('sqlite');
  const hub = await createTestHub({ databaseUrl: dbase.url, inlinePlugins: [scriptedMethodPlugin()], config: { database: { sqliteDriver: 'better-sqlite3' } } });
  t.teardown(async () => {
    await hub.close();
    await dbase.drop();
  });
  const driver = (hub.db.client as { driverName?: string }).driverName;
  t.is(driver, 'better-sqlite3');
  const m = await hub.createMerchant();
  const o = await hub.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'B-1', amount: 700, currency: 'USD' } });
  const p = await hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: m.key, body: { method: 'scripted' } });
  t.is(p.body.status, 'captured');
  const mode = await hub.db.raw('PRAGMA journal_mode');
  t.is(JSON.stringify(mode).toLowerCase().includes('wal'), true);
});
