import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { Knex } from 'knex';
import { internal } from '../helpers/internal';

/*
 * Group commit on SQLite (core/src/db/group-commit.ts): transactions that follow one another on the one connection
 * share a COMMIT, yet each one commits or rolls back on its own, and its caller resumes only once it is durable.
 * "Durable" is checked from a second, independent connection to the same file: it sees only committed data.
 */
const { createDb, durableRead } = internal<{
  createDb(o: { url: string; sqliteDriver?: 'sqlite3' | 'better-sqlite3'; groupCommit?: boolean }): Knex;
  durableRead<T>(db: Knex, fn: (q: Knex | Knex.Transaction) => Promise<T>): Promise<T>;
}>('db/knex');

const DRIVERS = ['sqlite3', 'better-sqlite3'] as const;

async function open(t: { teardown(f: () => unknown): void }, driver: (typeof DRIVERS)[number]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-gc-'));
  const url = `sqlite:${path.join(dir, 'g.sqlite')}`;
  const db = createDb({ url, sqliteDriver: driver });
  // The observer: another connection (another driver instance, no group commit) that sees committed data only.
  const other = createDb({ url, sqliteDriver: 'better-sqlite3', groupCommit: false });
  t.teardown(async () => {
    await db.destroy();
    await other.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await db.schema.createTable('t', (tb) => {
    tb.integer('id').primary();
    tb.string('v');
  });
  const seen = async (id: number) => (await other('t').where({ id }).first()) !== undefined;
  return { db, seen };
}

for (const driver of DRIVERS) {
  test(`${driver}: concurrent transactions share commits, and each caller resumes only once its row is committed`, async (t) => {
    const { db, seen } = await open(t, driver);
    const checks: Array<Promise<boolean>> = [];
    await Promise.all(Array.from({ length: 40 }, (_, i) => db.transaction(async (trx) => {
      await trx('t').insert({ id: i, v: `row ${i}` });
    }).then(() => {
      checks.push(seen(i));
    })));
    const visible = await Promise.all(checks);
    t.is(visible.filter(Boolean).length, 40, 'every resumed caller finds its row committed');
    t.is(Number((await db('t').count({ n: '*' }).first())?.n), 40);
  });

  test(`${driver}: a transaction that fails inside a group rolls back alone`, async (t) => {
    const { db, seen } = await open(t, driver);
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((i) => db.transaction(async (trx) => {
      await trx('t').insert({ id: i, v: 'a' });
      await trx('t').insert({ id: 100 + i, v: 'b' });
      if (i % 2 === 0) throw new Error(`refused ${i}`);
    })));
    t.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
    t.deepEqual((await db('t').orderBy('id').pluck('id')), [1, 3, 5, 101, 103, 105]);
    t.true(await seen(105));
    t.false(await seen(102));
    // A duplicate key inside one transaction fails that transaction only.
    const dup = await Promise.allSettled([
      db.transaction((trx) => trx('t').insert({ id: 7, v: 'x' })),
      db.transaction(async (trx) => {
        await trx('t').insert({ id: 8, v: 'y' });
        await trx('t').insert({ id: 1, v: 'again' });
      }),
      db.transaction((trx) => trx('t').insert({ id: 9, v: 'z' })),
    ]);
    t.deepEqual(dup.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    t.deepEqual(await db('t').whereIn('id', [7, 8, 9]).orderBy('id').pluck('id'), [7, 9]);
  });

  test(`${driver}: a statement outside any transaction commits the pending group first; durable reads wait for it`, async (t) => {
    const { db, seen } = await open(t, driver);
    const writes = [10, 11, 12].map((i) => db.transaction((trx) => trx('t').insert({ id: i, v: 'w' })));
    // Queued behind the three transactions: by the time it runs, they are committed (it never reads a pending group).
    const n = await db('t').count({ n: '*' }).first();
    t.is(Number(n?.n), 3);
    t.true(await seen(12));
    await Promise.all(writes);
    const w = db.transaction((trx) => trx('t').insert({ id: 13, v: 'w' }));
    const got = await durableRead(db, (q) => q('t').where({ id: 13 }).first());
    t.is(got?.v, 'w');
    t.true(await seen(13), 'a durable read returns only once what it read is committed');
    await w;
  });

  test(`${driver}: nested transactions (savepoints) still work inside a grouped transaction`, async (t) => {
    const { db } = await open(t, driver);
    await db.transaction(async (trx) => {
      await trx('t').insert({ id: 1, v: 'outer' });
      await trx.transaction(async (inner) => {
        await inner('t').insert({ id: 2, v: 'inner' });
        throw new Error('inner refused');
      }).catch(() => undefined);
      await trx('t').insert({ id: 3, v: 'outer' });
    });
    t.deepEqual(await db('t').orderBy('id').pluck('id'), [1, 3]);
  });
}

test('with group commit off, every transaction commits on its own', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-gc-'));
  const db = createDb({ url: `sqlite:${path.join(dir, 'g.sqlite')}`, sqliteDriver: 'better-sqlite3', groupCommit: false });
  t.teardown(async () => {
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await db.schema.createTable('t', (tb) => tb.integer('id').primary());
  const sql: string[] = [];
  db.on('query', (q: { sql: string }) => sql.push(q.sql));
  await db.transaction((trx) => trx('t').insert({ id: 1 }));
  t.true(sql.some((s) => /^BEGIN IMMEDIATE/.test(s)) && sql.some((s) => /^COMMIT/.test(s)));
  t.false(sql.some((s) => /SAVEPOINT/.test(s)));
});

const { CommitGroup } = internal<{
  CommitGroup: new (exec: (c: unknown, sql: string) => Promise<void> | void, withConnection: (fn: (c: unknown) => Promise<void>) => Promise<void>) => {
    open: boolean; begin(c: unknown): Promise<void>; enlist(): Promise<void>;
  };
}>('db/group-commit');

test('a group whose COMMIT cannot get the connection yet is committed on a later try; its members wait for it', async (t) => {
  const sql: string[] = [];
  let refusals = 2;
  const g = new CommitGroup((_c, s) => {
    sql.push(s);
  }, async (fn) => {
    if (refusals-- > 0) throw new Error('Knex: Timeout acquiring a connection');
    await fn('conn');
  });
  await g.begin('conn');
  const members = [g.enlist(), g.enlist()];
  await Promise.all(members);
  t.deepEqual(sql, ['BEGIN IMMEDIATE; SAVEPOINT payhub_tx', 'COMMIT']);
  t.false(g.open);
});

test('a failed COMMIT fails every member of its group and rolls back', async (t) => {
  const sql: string[] = [];
  const g = new CommitGroup((_c, s) => {
    sql.push(s);
    if (s === 'COMMIT') throw new Error('disk I/O error');
  }, async (fn) => fn('conn'));
  await g.begin('conn');
  const results = await Promise.allSettled([g.enlist(), g.enlist(), g.enlist()]);
  t.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
  t.deepEqual(sql, ['BEGIN IMMEDIATE; SAVEPOINT payhub_tx', 'COMMIT', 'ROLLBACK']);
  t.false(g.open);
});
