import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { createTestHub, TOKENS, type TestHub } from '@payhub/core';
import { repoPlugin } from '../helpers/paths';

/*
 * The card issue's acceptance, end to end over real parts: the hub, the card plugin, the sandbox bank emulator over
 * HTTP, a shop's webhook endpoint on loopback.
 */
interface BankOp { kind: string; reference: string; amount: number; approved: boolean }

async function bankLedger(hub: TestHub): Promise<BankOp[]> {
  const adapter = hub.container.resolveAll(TOKENS.BankAdapter).find((a) => a.id === 'sandbox-bank') as unknown as { emulatorUrl(): string };
  const r = await fetch(`${adapter.emulatorUrl()}/ledger`);
  return ((await r.json()) as { operations: BankOp[] }).operations;
}

function shop(): Promise<{ url: string; hooks: Array<{ headers: http.IncomingHttpHeaders; body: string }>; close(): Promise<void> }> {
  const hooks: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, hooks,
    close: () => new Promise<void>((r) => server.close(() => r())),
  })));
}

const card = (number: string) => ({ number, exp_month: 12, exp_year: new Date().getUTCFullYear() + 3, cvc: '123', holder: 'IVAN PETROV' });

async function setup(t: import('ava').ExecutionContext) {
  const s = await shop();
  const hub = await createTestHub({ plugins: [{ resolve: repoPlugin('sandbox-bank') }, { resolve: repoPlugin('card') }] });
  t.teardown(async () => {
    await hub.close();
    await s.close();
  });
  const m = await hub.createMerchant({ notifyUrl: s.url });
  let n = 0;
  const order = async (amount: number, capture: 'automatic' | 'manual' = 'automatic') =>
    (await hub.api('POST', '/v1/orders', { key: m.key, body: { order_number: `acc-${++n}`, amount, currency: 'RUB', capture } })).body;
  const pay = (id: string, number: string) => hub.api('POST', `/v1/orders/${id}/payments`, { key: m.key, body: { method: 'card', card: card(number) } });
  const available = async () => ((await hub.api('GET', '/v1/balance', { key: m.key })).body.balances[0]?.available ?? 0) as number;
  return { hub, s, m, order, pay, available };
}

test('4111 1111 1111 1111 through the API: paid, balance up, a verifiable order.paid webhook, one capture at the bank', async (t) => {
  const { hub, s, m, order, pay, available } = await setup(t);
  const before = await available();
  const o = await order(45_600);
  const p = await pay(o.id, '4111111111111111');
  t.is(p.status, 201, p.text);
  t.is(p.body.status, 'captured');
  t.is((await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'paid');
  t.is(await available(), before + 45_600);
  await hub.runWorkers();
  const paid = s.hooks.filter((h) => JSON.parse(h.body).type === 'order.paid');
  t.is(paid.length, 1);
  const payload = new Webhook(m.webhookSecret).verify(paid[0]!.body, {
    'webhook-id': String(paid[0]!.headers['webhook-id']), 'webhook-timestamp': String(paid[0]!.headers['webhook-timestamp']),
    'webhook-signature': String(paid[0]!.headers['webhook-signature']),
  }) as { type: string; data: { id: string; status: string; amount: number } };
  t.like(payload, { type: 'order.paid', data: { id: o.id, status: 'paid', amount: 45_600 } });
  t.throws(() => new Webhook(`whsec_${Buffer.alloc(24, 7).toString('base64')}`).verify(paid[0]!.body, {
    'webhook-id': String(paid[0]!.headers['webhook-id']), 'webhook-timestamp': String(paid[0]!.headers['webhook-timestamp']),
    'webhook-signature': String(paid[0]!.headers['webhook-signature']),
  }), undefined, 'another secret does not verify');
  const captures = (await bankLedger(hub)).filter((op) => op.reference === p.body.id && op.approved && op.kind === 'capture');
  t.is(captures.length, 1, JSON.stringify(await bankLedger(hub)));
  t.is(captures[0]!.amount, 45_600);
});

test('the lost-answer card ends paid after the resolver: one capture at the bank, one ledger posting', async (t) => {
  const { hub, order, pay } = await setup(t);
  const o = await order(12_300);
  const p = await pay(o.id, '4000000000000119');
  t.is(p.status, 201, p.text);
  t.is(p.body.status, 'unknown');
  hub.clock.advance(120_000);
  await hub.runWorkers();
  hub.clock.advance(600_000);
  await hub.runWorkers();
  const a = await hub.db('payment_attempts').where({ id: p.body.id }).first();
  t.is(a.status, 'captured');
  t.is((await hub.db('orders').where({ id: o.id }).first()).status, 'paid');
  t.is((await hub.db('ledger_entries').where({ ref_id: p.body.id, kind: 'capture' })).length, 2, 'one balanced posting (two legs)');
  const ops = (await bankLedger(hub)).filter((op) => op.reference === p.body.id && op.approved);
  t.is(ops.filter((op) => op.kind === 'capture').length, 1, JSON.stringify(ops));
  t.is(ops.find((op) => op.kind === 'capture')!.amount, 12_300);
});

test('two-stage: partial capture, two partial refunds, and every bound enforced', async (t) => {
  const { hub, m, order, pay, available } = await setup(t);
  const o = await order(10_000, 'manual');
  const p = await pay(o.id, '5555555555554444');
  t.is(p.body.status, 'authorized');
  const post = (path: string, body: unknown) => hub.api('POST', `/v1/orders/${o.id}/${path}`, { key: m.key, body });
  t.is((await post('capture', { amount: 10_001 })).body.code, 'amount_exceeds_authorized');
  const c = await post('capture', { amount: 8_000 });
  t.is(c.status, 200, c.text);
  t.is(c.body.status, 'paid');
  t.is(c.body.amount_captured, 8_000);
  t.is((await post('capture', { amount: 1_000 })).body.code, 'already_captured');
  t.is((await post('cancel', {})).status, 409);
  t.is((await post('refunds', { amount: 3_000 })).status, 201);
  t.is((await post('refunds', { amount: 2_000 })).status, 201);
  const over = await post('refunds', { amount: 3_001 });
  t.is(over.status, 409);
  t.is(over.body.code, 'refund_exceeds_captured');
  t.is((await post('refunds', { amount: 100, currency: 'USD' })).body.code, 'currency_mismatch');
  const g = await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key });
  t.is(g.body.status, 'partially_refunded');
  t.is(g.body.amount_refunded, 5_000);
  t.is(await available(), 3_000);
  t.is((await post('refunds', { amount: 3_000 })).status, 201);
  t.is((await hub.api('GET', `/v1/orders/${o.id}`, { key: m.key })).body.status, 'refunded');
  const bankRefunds = (await bankLedger(hub)).filter((op) => op.reference === p.body.id && op.kind === 'refund' && op.approved);
  t.deepEqual(bankRefunds.map((op) => op.amount), [3_000, 2_000, 3_000]);
});
