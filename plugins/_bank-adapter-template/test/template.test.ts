/**
 * The template's own tests: the adapter against a scripted bank on 127.0.0.1 (replace with your bank's sandbox
 * or an emulator of it), plus the pure mapping.
 */
import test from 'ava';
import http from 'node:http';
import net from 'node:net';
import { verifyRequestSignature } from '@payhub/core';
import plugin from '../src/index';
import { ExampleBankAdapter } from '../src/adapter';
import { fromPaymentResponse, mapState } from '../src/transformers';

const SECRET = 'template-test-secret-0123456789';

/** A tiny bank: checks the signature, keeps payments by order_id (idempotent), charges once. */
async function fakeBank(behaviour: { hang?: boolean } = {}) {
  const payments = new Map<string, Record<string, unknown>>();
  let charges = 0;
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      if (behaviour.hang) return;
      const ok = verifyRequestSignature(SECRET, {
        method: req.method!, path: req.url!, timestamp: String(req.headers['x-timestamp'] ?? ''), body: raw,
        signature: req.headers['x-signature'] as string | undefined,
      });
      const reply = (status: number, body: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
      if (!ok.ok) return reply(401, { error: 'bad_signature' });
      if (req.method === 'POST' && req.url === '/payments') {
        const b = JSON.parse(raw);
        let p = payments.get(b.order_id);
        if (!p) {
          const declined = b.card.pan === '4000000000000002';
          if (!declined) charges++;
          p = { id: `bk_${payments.size + 1}`, order_id: b.order_id, amount: b.amount, state: declined ? 'DECLINED' : (b.auto_capture ? 'CHARGED' : 'AUTHORIZED'), ...(declined ? { decline_code: 'do_not_honor' } : {}) };
          payments.set(b.order_id, p);
        }
        return reply(200, p);
      }
      const m = /^\/payments\/([^/]+)$/.exec(req.url!);
      if (req.method === 'GET' && m) {
        const p = payments.get(decodeURIComponent(m[1]!));
        return p ? reply(200, p) : reply(404, { error: 'not_found' });
      }
      reply(404, { error: 'no_route' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    url,
    charges: () => charges,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

const card = { type: 'card' as const, number: '4111111111111111', expMonth: 12, expYear: new Date().getUTCFullYear() + 2 };
const amount = { amount: 1000, currency: 'RUB' };

test('authorize is processed, a retry with the same reference charges once, status agrees', async (t) => {
  const bank = await fakeBank();
  try {
    const a = new ExampleBankAdapter({ baseUrl: bank.url, timeoutMs: 1000, terminalId: 't1', secret: SECRET });
    const first = await a.authorize({ reference: 'att_1', amount, capture: false, source: card });
    t.like(first, { outcome: 'processed', state: 'authorized', bankRef: 'bk_1' });
    t.like(await a.authorize({ reference: 'att_1', amount, capture: false, source: card }), { outcome: 'processed', bankRef: 'bk_1' });
    t.is(bank.charges(), 1);
    t.like(await a.status({ reference: 'att_1' }), { outcome: 'processed', state: 'authorized' });
    t.like(await a.status({ reference: 'att_never' }), { outcome: 'not_sent' });
    t.like(await a.authorize({ reference: 'att_2', amount, capture: false, source: { ...card, number: '4000000000000002' } }), { outcome: 'declined', reason: 'do_not_honor' });
  } finally {
    await bank.close();
  }
});

test('a wrong secret is refused by the bank: not_sent', async (t) => {
  const bank = await fakeBank();
  try {
    const a = new ExampleBankAdapter({ baseUrl: bank.url, timeoutMs: 1000, terminalId: 't1', secret: 'another-secret-0123456789' });
    t.like(await a.authorize({ reference: 'att_3', amount, capture: false, source: card }), { outcome: 'not_sent' });
    t.is(bank.charges(), 0);
  } finally {
    await bank.close();
  }
});

test('refused connection → not_sent; no answer → unknown; failed status query → unknown', async (t) => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  const refused = new ExampleBankAdapter({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 1000, secret: SECRET });
  t.deepEqual(await refused.authorize({ reference: 'att_4', amount, capture: false, source: card }), { outcome: 'not_sent', reason: 'connection_refused' });
  t.like(await refused.status({ reference: 'att_4' }), { outcome: 'unknown' });
  const bank = await fakeBank({ hang: true });
  try {
    const slow = new ExampleBankAdapter({ baseUrl: bank.url, timeoutMs: 200, secret: SECRET });
    t.deepEqual(await slow.authorize({ reference: 'att_5', amount, capture: false, source: card }), { outcome: 'unknown', reason: 'timeout' });
  } finally {
    await bank.close();
  }
});

test('transformers: only documented final states are definite', (t) => {
  t.is(mapState('CHARGED'), 'captured');
  t.is(mapState('SOMETHING_NEW'), 'pending');
  t.like(fromPaymentResponse({ id: 'b', order_id: 'o', state: 'ACS_REQUIRED', amount: 1, acs_url: 'https://acs.example/1' }), { outcome: 'pending', challenge: { url: 'https://acs.example/1' } });
  t.like(fromPaymentResponse({ id: 'b', order_id: 'o', state: 'DECLINED', amount: 1 }), { outcome: 'declined', reason: 'declined' });
});

test('the plugin validates its options and registers the adapter', (t) => {
  t.is(plugin.name, 'bank-adapter-template');
  t.false(plugin.options!.safeParse({}).success);
  t.like(plugin.options!.parse({ baseUrl: 'https://bank.example/api' }), { timeoutMs: 10_000 });
  let provided: unknown;
  plugin.register!({
    options: plugin.options!.parse({ baseUrl: 'https://bank.example/api' }),
    provide: (_token: unknown, p: { useFactory?: () => unknown }) => { provided = p.useFactory?.(); },
  } as never);
  t.true(provided instanceof ExampleBankAdapter);
});
