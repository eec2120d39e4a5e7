'use strict';
/*
 * Lists the SQL statements the hub runs for one paid order (create + pay with the approved sandbox card, inproc
 * bank), after one warm-up pair: the round trips a payment costs. PAYHUB_TEST_DB=postgres for PostgreSQL.
 *
 *   npm run build && node bench/trace-queries.js
 */
require('reflect-metadata');
const path = require('node:path');
const { createTestHub } = require(path.resolve(__dirname, '..', 'core', 'dist', 'src', 'testing'));

async function main() {
  const hub = await createTestHub({
    plugins: [{ resolve: './plugins/sandbox-bank', options: { transport: 'inproc' } }, { resolve: './plugins/card' }],
  });
  try {
    const m = await hub.createMerchant({});
    const card = { number: '4111111111111111', exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, cvc: '123', holder: 'IVAN PETROV' };
    const pair = async (n) => {
      const o = await hub.api('POST', '/v1/orders', { key: m.key, headers: { 'Idempotency-Key': `o${n}` }, body: { order_number: `n${n}`, amount: 19900, currency: 'RUB' } });
      const p = await hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: m.key, headers: { 'Idempotency-Key': `p${n}` }, body: { method: 'card', card } });
      return p.body.status;
    };
    await pair(0);
    const qs = [];
    const onQuery = (q) => qs.push(q.sql);
    hub.db.client.on('query', onQuery);
    const status = await pair(1);
    hub.db.client.off('query', onQuery);
    const commits = qs.filter((q) => /^commit/i.test(q)).length;
    const writes = qs.filter((q) => /^(insert|update|delete)/i.test(q)).length;
    process.stdout.write(`${hub.kind}: one paid order (${status}): ${qs.length} statements, ${commits} COMMITs, ${writes} writes\n`);
    for (const q of qs) process.stdout.write(`  ${q.length > 160 ? `${q.slice(0, 157)}...` : q}\n`);
  } finally {
    await hub.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
