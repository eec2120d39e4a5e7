import test from 'ava';
import crypto from 'node:crypto';
import path from 'node:path';
import { createRequire } from 'node:module';
import { createTestDatabase, testDbKind } from '@payhub/core';

/*
 * Keeps the benchmark harness (bench/) working: its hub and floor servers start as child processes, a short load of
 * the card scenario runs without errors and the books balance. No timings are asserted here (see bench/run.js).
 */

const ROOT = path.resolve(__dirname, '..', '..', '..');
const load = createRequire(__filename);
/* eslint-disable @typescript-eslint/no-explicit-any */
const { startChild } = load(path.join(ROOT, 'bench', 'lib', 'proc.js')) as { startChild: (script: string, o: Record<string, unknown>) => Promise<any> };
const { runPairs } = load(path.join(ROOT, 'bench', 'lib', 'load.js')) as { runPairs: (o: Record<string, unknown>) => Promise<any> };

test('bench hub child: the card scenario pays orders; paid orders = bank captures = capture postings', async (t) => {
  const dbase = await createTestDatabase(testDbKind());
  const adminToken = `adm_smoke_${crypto.randomBytes(8).toString('hex')}`;
  const srv = await startChild(path.join(ROOT, 'bench', 'lib', 'hub-child.js'), {
    env: { BENCH_HUB: JSON.stringify({ url: dbase.url, transport: 'inproc', logRequests: false, adminToken }) },
  });
  t.teardown(async () => {
    await srv.stop();
    await dbase.drop();
  });
  const res = await fetch(`http://127.0.0.1:${srv.info.port}/v1/admin/merchants`, {
    method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Smoke shop', mode: 'test' }),
  });
  t.is(res.status, 201);
  const m = (await res.json()) as { test_secret_key: string };
  const r = await runPairs({ port: srv.info.port, key: m.test_secret_key, connections: 4, durationSec: 1 });
  t.is(r.errors.total, 0, JSON.stringify(r.errors));
  t.true(r.paidOrders > 0);
  const books = await srv.call('books');
  const ops = ((await (await fetch(`${srv.info.bankUrl}/ledger`)).json()) as { operations: Array<{ kind: string; approved: boolean }> }).operations;
  const paid = books.orders.paid;
  t.is(paid, ops.filter((x) => x.kind === 'capture' && x.approved).length);
  t.is(paid, books.capturePostings);
  t.is(paid, books.paidEvents);
  t.is(books.unbalancedPostings, 0);
  t.is(books.inFlightLeft, 0);
  t.true(paid >= r.paidOrders && paid <= r.paidOrders + 4, `${paid} paid, clients saw ${r.paidOrders}`);
});

test('bench floor child: the same scenario with hand-written SQL; every paid order has its capture posting', async (t) => {
  const kind = testDbKind();
  const dbase = await createTestDatabase(kind);
  const srv = await startChild(path.join(ROOT, 'bench', 'lib', 'floor-child.js'), {
    env: { BENCH_FLOOR: JSON.stringify({ url: dbase.url, driver: kind === 'postgres' ? 'postgres' : 'sqlite3' }) },
  });
  t.teardown(async () => {
    await srv.stop();
    await dbase.drop();
  });
  const r = await runPairs({ port: srv.info.port, connections: 4, durationSec: 1 });
  t.is(r.errors.total, 0, JSON.stringify(r.errors));
  t.true(r.paidOrders > 0);
  const books = await srv.call('books');
  t.is(books.paidOrders, books.capturePostings);
  t.true(books.paidOrders >= r.paidOrders);
});
