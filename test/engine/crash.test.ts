import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import test from 'ava';
import { createTestDatabase, createTestHub } from '@payhub/core';
import { engineHubs, eventTypes, postings } from '../helpers/engine-kit';
import { emulatorMethodPlugin, startProviderEmulator } from '../helpers/provider-emulator';
import { checkInvariants } from './invariants';

const kit = engineHubs(test);

const CHILD = path.join(__dirname, 'fixtures', 'crash-child.js');
const LOAD_CHILD = path.join(__dirname, 'fixtures', 'load-crash-child.js');

function runChild(env: Record<string, string>, script = CHILD): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr.on('data', (d) => (stderr += d));
    c.on('error', reject);
    c.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

for (const fault of ['after_provider_answer', 'after_ledger_insert', 'during_capture'] as const) {
  test.serial(`kill -9 ${fault}: no half-written state; the resolver reconciles it once after restart`, async (t) => {
    const provider = await startProviderEmulator();
    t.teardown(() => provider.close());
    const dbase = await createTestDatabase();
    kit.cleanup(dbase.drop);
    const masterKey = crypto.randomBytes(32).toString('base64');
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-crash-')), 'out.json');
    const child = await runChild({
      PAYHUB_CRASH_DB: dbase.url, PAYHUB_CRASH_PROVIDER: provider.url, PAYHUB_CRASH_MASTER_KEY: masterKey,
      PAYHUB_CRASH_FAULT: fault, PAYHUB_CRASH_OUT: out,
    });
    t.is(child.signal, 'SIGKILL', `child exited ${child.code}: ${child.stderr}`);
    const { key, orderId } = JSON.parse(fs.readFileSync(out, 'utf8')) as { key: string; orderId: string };
    t.is(provider.charges.size, 1, 'the provider charged before the crash');
    const [attemptId, charge] = [...provider.charges.entries()][0]!;

    const h = kit.track(await createTestHub({ databaseUrl: dbase.url, config: { keys: { masterKey } }, inlinePlugins: [emulatorMethodPlugin(provider.url)] }));
    // What the crash left: the last committed state, whole.
    t.deepEqual(await checkInvariants(h.db), []);
    const o0 = await h.api('GET', `/v1/orders/${orderId}`, { key });
    t.is(o0.status, 200, o0.text);
    t.is(o0.body.status, 'processing');
    t.is(o0.body.payments.length, 1);
    t.is(o0.body.payments[0].id, attemptId);
    t.is(o0.body.payments[0].status, fault === 'during_capture' ? 'authorized' : 'pending');
    t.is(await postings(h, attemptId, 'capture'), 0);
    t.false((await eventTypes(h, orderId)).includes('order.paid'));

    // The resolver finds it on its schedule and settles it exactly once.
    h.clock.advance(61_000);
    await h.runWorkers();
    h.clock.advance(3_600_000);
    await h.runWorkers();
    const o1 = await h.api('GET', `/v1/orders/${orderId}`, { key });
    t.like(o1.body, { status: 'paid', amount_captured: 31337 });
    t.is(o1.body.payments[0].status, 'captured');
    t.is(await postings(h, attemptId, 'capture'), 1);
    t.deepEqual((await eventTypes(h, orderId)).filter((e) => e === 'order.paid'), ['order.paid']);
    t.is(charge.requests, 1, 'charged once');
    t.is(charge.status, 'captured');
    const b = await h.api('GET', '/v1/balance', { key });
    t.deepEqual(b.body.balances, [{ currency: 'RUB', pending: 0, available: 31337 }]);
  });
}

test.serial('kill -9 under load: every answer the hub gave is in the database after restart, and the books balance', async (t) => {
  const dbase = await createTestDatabase();
  kit.cleanup(dbase.drop);
  const masterKey = crypto.randomBytes(32).toString('base64');
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-crash-')), 'answers.jsonl');
  const child = await runChild({ PAYHUB_CRASH_DB: dbase.url, PAYHUB_CRASH_MASTER_KEY: masterKey, PAYHUB_CRASH_OUT: out, PAYHUB_CRASH_ANSWERS: '300' }, LOAD_CHILD);
  t.is(child.signal, 'SIGKILL', `child exited ${child.code}: ${child.stderr}`);
  const answers = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { order: string; amount?: number; payment?: string });
  t.is(answers.length, 300);
  const { key } = JSON.parse(fs.readFileSync(`${out}.merchant`, 'utf8')) as { key: string };

  const h = kit.track(await createTestHub({ databaseUrl: dbase.url, config: { keys: { masterKey } }, inlinePlugins: [] }));
  t.deepEqual(await checkInvariants(h.db), []);
  const orders = new Map((await h.db('orders').select('id', 'status', 'amount')).map((o: { id: string; status: string; amount: number }) => [o.id, o]));
  const attempts = new Map((await h.db('payment_attempts').select('id', 'order_id', 'status')).map((a: { id: string; order_id: string; status: string }) => [a.id, a]));
  const paid = answers.filter((a) => a.payment);
  t.true(paid.length > 0 && paid.length < answers.length);
  for (const a of answers) {
    const o = orders.get(a.order);
    t.truthy(o, `answered order ${a.order} is missing after the crash`);
    if (a.amount !== undefined) t.is(Number(o!.amount), a.amount);
    if (a.payment) {
      t.is(o!.status, 'paid');
      t.is(attempts.get(a.payment)?.status, 'captured');
      t.is(await postings(h, a.payment, 'capture'), 1);
    }
  }
  // Idempotent replays of answered requests return the answer that was given.
  const last = paid[paid.length - 1]!;
  const i = Number(/L-(\d+)/.exec((await h.api('GET', `/v1/orders/${last.order}`, { key })).body.order_number)![1]);
  const replay = await h.api('POST', `/v1/orders/${last.order}/payments`, { key, headers: { 'Idempotency-Key': `p-${i}` }, body: { method: 'scripted' } });
  t.is(replay.headers['idempotent-replayed'], 'true');
  t.is(replay.body.id, last.payment);
});
