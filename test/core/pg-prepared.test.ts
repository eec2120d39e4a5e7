import test from 'ava';
import type { Knex } from 'knex';
import { createTestDatabase, kindOf } from '@payhub/core';
import { internal } from '../helpers/internal';

/*
 * PostgreSQL runs data statements as named prepared statements (core/src/db/knex.ts). These tests always use the
 * PostgreSQL server of the machine, whatever PAYHUB_TEST_DB says.
 */
const { createDb } = internal<{ createDb(o: { url: string; poolMax?: number }): Knex }>('db/knex');

async function pg(t: { teardown(f: () => unknown): void }) {
  const d = await createTestDatabase('postgres');
  const db = createDb({ url: d.url, poolMax: 1 });
  t.teardown(async () => {
    await db.destroy();
    await d.drop();
  });
  return db;
}

test('PostgreSQL: data statements are prepared once per connection and reused', async (t) => {
  const db = await pg(t);
  // Its own table name: statement names are per SQL text and process (the other test renames its texts).
  t.is(kindOf(db), 'postgres');
  await db.schema.createTable('reuse_t', (tb) => {
    tb.integer('id').primary();
    tb.text('v');
  });
  for (let i = 1; i <= 5; i++) await db('reuse_t').insert({ id: i, v: `v${i}` });
  for (let i = 1; i <= 5; i++) t.is((await db('reuse_t').where({ id: i }).first())?.v, `v${i}`);
  const prepared = await db.raw('select name, statement from pg_prepared_statements');
  const texts = prepared.rows.map((r: { statement: string }) => r.statement);
  // One server-side statement per SQL text, however many times it ran.
  t.is(texts.filter((s: string) => /^insert into "reuse_t"/.test(s)).length, 1);
  t.is(texts.filter((s: string) => /^select \* from "reuse_t" where "id" = \$1/.test(s)).length, 1);
  t.true(prepared.rows.every((r: { name: string }) => /^payhub_/.test(r.name)));
});

test('PostgreSQL: a table changed under a running hub does not break its prepared statements', async (t) => {
  const db = await pg(t);
  await db.schema.createTable('t', (tb) => {
    tb.integer('id').primary();
    tb.text('v');
  });
  await db('t').insert({ id: 1, v: 'a' });
  t.deepEqual(await db('t').where({ id: 1 }).first(), { id: 1, v: 'a' });
  // Another process migrates: `select *` now has another result type; the cached plan is refused once and renamed.
  await db.raw('alter table t add column w text');
  t.deepEqual(await db('t').where({ id: 1 }).first(), { id: 1, v: 'a', w: null });
  t.deepEqual(await db('t').where({ id: 1 }).first(), { id: 1, v: 'a', w: null });
  // Inside a transaction the refusal is the transaction's error (it cannot be retried there); the next one works.
  await db.raw('alter table t add column x text');
  await t.throwsAsync(db.transaction((trx) => trx('t').where({ id: 1 }).first()), { message: /cached plan/ });
  t.deepEqual(await db.transaction((trx) => trx('t').where({ id: 1 }).first()), { id: 1, v: 'a', w: null, x: null });
});
