/**
 * The BankAdapter against the emulator over loopback HTTP (and in-process): outcome classes, money rules, accounts.
 */
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SandboxBankAdapter } from '../src/adapter';
import { SandboxBankServer, DEV_TERMINAL_SECRET } from '../src/server';
import { TEST_CARDS } from '../src/cards';
import { completeSandboxChallenge } from '../src/index';
import { card, closedPort, getJson, postJson, ref, rub, startEmulator } from './helpers';

test('a refused connection is not_sent for every state-changing call; status() says unknown', async (t) => {
  const port = await closedPort();
  const a = new SandboxBankAdapter({
    url: () => `http://127.0.0.1:${port}`, timeoutMs: 1000, merchantId: 'm', terminalId: 't', terminalSecret: DEV_TERMINAL_SECRET, transport: 'http',
  });
  const reference = ref();
  t.deepEqual(await a.authorize({ reference, amount: rub(100), capture: false, source: card(TEST_CARDS.visa) }), { outcome: 'not_sent', reason: 'connection_refused' });
  t.deepEqual(await a.capture({ reference, amount: rub(100) }), { outcome: 'not_sent', reason: 'connection_refused' });
  t.deepEqual(await a.void({ reference }), { outcome: 'not_sent', reason: 'connection_refused' });
  t.deepEqual(await a.refund({ reference, refundReference: 'r1', amount: rub(100) }), { outcome: 'not_sent', reason: 'connection_refused' });
  // Not being able to ask says nothing about the payment.
  t.deepEqual(await a.status({ reference }), { outcome: 'unknown', reason: 'status query failed: connection_refused' });
  t.is(await a.binLookup('411111'), null);
  t.like(await a.checkConnection({}), { ok: false });
});

test('the lost-answer card: unknown after the timeout, the bank did capture, status() reports processed', async (t) => {
  const emu = await startEmulator({ holdMs: 10_000 });
  try {
    const a = emu.adapter({ timeoutMs: 1000 });
    const reference = ref();
    const r = await a.authorize({ reference, amount: rub(2500), capture: true, source: card(TEST_CARDS.lostAnswer) });
    t.deepEqual(r, { outcome: 'unknown', reason: 'timeout' });
    const ops = await a.ledger();
    t.like(ops.filter((o) => o.reference === reference), [
      { kind: 'authorize', approved: true, amount: 2500 },
      { kind: 'capture', approved: true, amount: 2500 },
    ]);
    t.like(await a.status({ reference }), { outcome: 'processed', state: 'captured', amountCaptured: 2500 });
    // The retry after unknown reuses the reference: answered at once, still one charge.
    t.like(await a.authorize({ reference, amount: rub(2500), capture: true, source: card(TEST_CARDS.lostAnswer) }), { outcome: 'processed', state: 'captured' });
    t.is((await a.ledger()).filter((o) => o.reference === reference && o.kind === 'authorize').length, 1);
  } finally {
    await emu.close();
  }
});

test('a bank that accepts the connection and never answers yields unknown, not a decline', async (t) => {
  const server = http.createServer(() => { /* silence */ });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const a = new SandboxBankAdapter({
      url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 200,
      merchantId: 'm', terminalId: 't', terminalSecret: DEV_TERMINAL_SECRET, transport: 'http',
    });
    t.deepEqual(await a.authorize({ reference: ref(), amount: rub(100), capture: false, source: card(TEST_CARDS.visa) }), { outcome: 'unknown', reason: 'timeout' });
    t.deepEqual(await a.status({ reference: ref() }), { outcome: 'unknown', reason: 'status query failed: timeout' });
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test('a wrong terminal secret is refused by the bank: not_sent, nothing charged; per-merchant credentials override', async (t) => {
  const emu = await startEmulator({ terminals: { 'term-42': 'merchant-42-secret-0123456789' } });
  try {
    const bad = emu.adapter({ terminalSecret: 'definitely-not-the-secret' });
    const reference = ref();
    t.deepEqual(await bad.authorize({ reference, amount: rub(100), capture: false, source: card(TEST_CARDS.visa) }), { outcome: 'not_sent', reason: 'bank refused the request signature' });
    t.like(await bad.status({ reference }), { outcome: 'unknown' });
    t.deepEqual(await bad.checkConnection({}), { ok: false, message: 'the bank refused the terminal credentials' });
    t.deepEqual((await getJson(`${emu.url}/ledger`)).body.operations, []);
    const credentials = { merchantId: 'm42', terminalId: 'term-42', secret: 'merchant-42-secret-0123456789' };
    t.like(await bad.authorize({ reference, amount: rub(100), capture: false, source: card(TEST_CARDS.visa), credentials }), { outcome: 'processed', state: 'authorized' });
    t.deepEqual(await bad.checkConnection(credentials), { ok: true });
    // Another merchant's terminal does not see m42's payment.
    t.like(await emu.adapter().status({ reference }), { outcome: 'not_sent' });
    t.like(await bad.status({ reference, credentials }), { outcome: 'processed' });
  } finally {
    await emu.close();
  }
});

test('capture: partial allowed once, never above the authorization, currency checked', async (t) => {
  const emu = await startEmulator();
  try {
    const a = emu.adapter();
    const reference = ref();
    t.like(await a.authorize({ reference, amount: rub(10_000), capture: false, source: card(TEST_CARDS.mastercard) }), { outcome: 'processed', state: 'authorized', amountAuthorized: 10_000 });
    t.deepEqual(await a.capture({ reference, amount: rub(10_001) }), { outcome: 'declined', reason: 'amount_exceeds_authorized', bankRef: (await getJson(`${emu.url}/payments/${reference}`)).body.bankRef });
    t.like(await a.capture({ reference, amount: { amount: 5000, currency: 'USD' } }), { outcome: 'declined', reason: 'currency_mismatch' });
    t.like(await a.capture({ reference, amount: rub(6000) }), { outcome: 'processed', state: 'captured', amountCaptured: 6000 });
    // The same capture retried is the same capture; another amount is refused.
    t.like(await a.capture({ reference, amount: rub(6000) }), { outcome: 'processed', state: 'captured', amountCaptured: 6000 });
    t.like(await a.capture({ reference, amount: rub(1000) }), { outcome: 'declined', reason: 'already_captured' });
    t.like(await a.void({ reference }), { outcome: 'declined', reason: 'already_captured' });
    t.like(await a.capture({ reference: ref(), amount: rub(1) }), { outcome: 'declined', reason: 'payment_not_found' });
    t.like(await a.capture({ reference, amount: { amount: 1.5, currency: 'RUB' } }), { outcome: 'not_sent' });
    const captures = (await a.ledger()).filter((o) => o.reference === reference && o.kind === 'capture' && o.approved);
    t.is(captures.length, 1);
  } finally {
    await emu.close();
  }
});

test('void before capture; refunds partial, several, never above captured, once per refundReference', async (t) => {
  const emu = await startEmulator();
  try {
    const a = emu.adapter();
    const voided = ref();
    await a.authorize({ reference: voided, amount: rub(3000), capture: false, source: card(TEST_CARDS.visa) });
    t.like(await a.void({ reference: voided }), { outcome: 'processed', state: 'voided' });
    t.like(await a.void({ reference: voided }), { outcome: 'processed', state: 'voided' });
    t.like(await a.capture({ reference: voided, amount: rub(3000) }), { outcome: 'declined', reason: 'already_voided' });
    t.like(await a.refund({ reference: voided, refundReference: 'rv', amount: rub(1) }), { outcome: 'declined', reason: 'not_captured' });

    const reference = ref();
    await a.authorize({ reference, amount: rub(10_000), capture: true, source: card(TEST_CARDS.visa) });
    t.like(await a.refund({ reference, refundReference: 'r1', amount: rub(4000) }), { outcome: 'processed', state: 'refunded', amountRefunded: 4000 });
    t.like(await a.refund({ reference, refundReference: 'r1', amount: rub(4000) }), { outcome: 'processed', amountRefunded: 4000 });
    t.like(await a.refund({ reference, refundReference: 'r1', amount: rub(4001) }), { outcome: 'declined', reason: 'reference_conflict' });
    t.like(await a.refund({ reference, refundReference: 'r2', amount: rub(6001) }), { outcome: 'declined', reason: 'amount_exceeds_captured' });
    t.like(await a.refund({ reference, refundReference: 'r3', amount: { amount: 100, currency: 'EUR' } }), { outcome: 'declined', reason: 'currency_mismatch' });
    t.like(await a.refund({ reference, refundReference: 'r4', amount: rub(6000) }), { outcome: 'processed', amountRefunded: 10_000 });
    t.like(await a.refund({ reference, refundReference: 'r5', amount: rub(1) }), { outcome: 'declined', reason: 'amount_exceeds_captured' });
    t.like(await a.status({ reference }), { outcome: 'processed', state: 'refunded', amountRefunded: 10_000 });
    t.like(await a.status({ reference, refundReference: 'r4' }), { outcome: 'processed', state: 'refunded' });
    t.like(await a.status({ reference, refundReference: 'r2' }), { outcome: 'declined', reason: 'amount_exceeds_captured' });
    t.like(await a.status({ reference, refundReference: 'never' }), { outcome: 'not_sent' });
    const refunded = (await a.ledger()).filter((o) => o.reference === reference && o.kind === 'refund' && o.approved);
    t.deepEqual(refunded.map((o) => o.amount), [4000, 6000]);
  } finally {
    await emu.close();
  }
});

test('completeChallenge returns pending until the buyer answers, then the final state', async (t) => {
  const emu = await startEmulator();
  try {
    const a = emu.adapter();
    const reference = ref();
    const returnUrl = 'https://shop.example/back';
    const r = await a.authorize({ reference, amount: rub(700), capture: true, source: card(TEST_CARDS.challenge), returnUrl });
    if (r.outcome !== 'pending' || !r.challenge) return t.fail(JSON.stringify(r));
    t.is(r.challenge.url, `${emu.url}/3ds/${reference}`);
    t.truthy(r.challenge.expiresAt);
    t.like(await a.completeChallenge({ reference, params: {} }), { outcome: 'pending' });
    await completeSandboxChallenge(r.challenge.url, { approve: true, returnUrl });
    t.like(await a.completeChallenge({ reference, params: {} }), { outcome: 'processed', state: 'captured', amountCaptured: 700 });
  } finally {
    await emu.close();
  }
});

test('personal accounts: 10 concurrent debits of 30% never overdraw (3 approved, balance stays ≥ 0)', async (t) => {
  const emu = await startEmulator({ latencyMs: 3 });
  try {
    const a = emu.adapter();
    await postJson(`${emu.url}/accounts`, { accountNumber: 'PA-1', balance: 10_000, currency: 'RUB' });
    const results = await Promise.all(Array.from({ length: 10 }, () => a.authorize({
      reference: ref(), amount: rub(3000), capture: true, source: { type: 'account', accountNumber: 'PA-1' },
    })));
    const approved = results.filter((r) => r.outcome === 'processed');
    const declined = results.filter((r) => r.outcome === 'declined');
    t.is(approved.length, 3);
    t.is(declined.length, 7);
    t.true(declined.every((r) => r.outcome === 'declined' && r.reason === 'insufficient_funds'));
    const acc = (await getJson(`${emu.url}/accounts/PA-1`)).body;
    t.is(acc.balance, 1000);
    t.true(acc.balance >= 0);
  } finally {
    await emu.close();
  }
});

test('personal accounts: holds, voids, refunds move the balance; blocked, unknown and foreign-currency accounts decline', async (t) => {
  const emu = await startEmulator();
  try {
    const a = emu.adapter();
    await postJson(`${emu.url}/accounts`, { accountNumber: 'PA-2', balance: 5000, currency: 'RUB' });
    await postJson(`${emu.url}/accounts`, { accountNumber: 'PA-3', balance: 5000, currency: 'RUB', blocked: true });
    await postJson(`${emu.url}/accounts`, { accountNumber: 'PA-4', balance: 5000, currency: 'USD' });
    const balance = async () => (await getJson(`${emu.url}/accounts/PA-2`)).body.balance;
    const src = { type: 'account' as const, accountNumber: 'PA-2' };
    const hold = ref();
    t.like(await a.authorize({ reference: hold, amount: rub(2000), capture: false, source: src }), { outcome: 'processed', state: 'authorized' });
    t.is(await balance(), 3000);
    await a.capture({ reference: hold, amount: rub(1500) });
    t.is(await balance(), 3500);
    await a.refund({ reference: hold, refundReference: 'x1', amount: rub(500) });
    t.is(await balance(), 4000);
    const voidMe = ref();
    await a.authorize({ reference: voidMe, amount: rub(4000), capture: false, source: src });
    t.is(await balance(), 0);
    t.like(await a.authorize({ reference: ref(), amount: rub(1), capture: false, source: src }), { outcome: 'declined', reason: 'insufficient_funds' });
    await a.void({ reference: voidMe });
    t.is(await balance(), 4000);
    t.like(await a.authorize({ reference: ref(), amount: rub(1), capture: false, source: { type: 'account', accountNumber: 'PA-3' } }), { outcome: 'declined', reason: 'account_blocked' });
    t.like(await a.authorize({ reference: ref(), amount: rub(1), capture: false, source: { type: 'account', accountNumber: 'nope' } }), { outcome: 'declined', reason: 'account_not_found' });
    t.like(await a.authorize({ reference: ref(), amount: rub(1), capture: false, source: { type: 'account', accountNumber: 'PA-4' } }), { outcome: 'declined', reason: 'currency_mismatch' });
  } finally {
    await emu.close();
  }
});

test('inproc transport gives the same answers without HTTP; the lost answer is unknown at once', async (t) => {
  const server = new SandboxBankServer();
  const a = new SandboxBankAdapter({
    url: () => null, timeoutMs: 5000, merchantId: 'm', terminalId: 't', terminalSecret: DEV_TERMINAL_SECRET,
    transport: 'inproc', bank: () => server.bank,
  });
  const reference = ref();
  t.like(await a.authorize({ reference, amount: rub(100), capture: false, source: card(TEST_CARDS.visa) }), { outcome: 'processed', state: 'authorized' });
  t.like(await a.authorize({ reference: ref(), amount: rub(100), capture: false, source: card(TEST_CARDS.doNotHonor) }), { outcome: 'declined', reason: 'do_not_honor' });
  const lost = ref();
  t.deepEqual(await a.authorize({ reference: lost, amount: rub(100), capture: true, source: card(TEST_CARDS.lostAnswer) }), { outcome: 'unknown', reason: 'timeout' });
  t.like(await a.status({ reference: lost }), { outcome: 'processed', state: 'captured' });
  t.like(await a.binLookup('22022012'), { brand: 'mir', productType: 'payroll' });
  t.is((await a.ledger()).length, 4);
  const none = new SandboxBankAdapter({
    url: () => null, timeoutMs: 5000, merchantId: 'm', terminalId: 't', terminalSecret: DEV_TERMINAL_SECRET, transport: 'inproc', bank: () => null,
  });
  t.deepEqual(await none.authorize({ reference: ref(), amount: rub(100), capture: false, source: card(TEST_CARDS.visa) }), { outcome: 'not_sent', reason: 'emulator_not_running' });
});

test('binLookup through the adapter', async (t) => {
  const emu = await startEmulator();
  try {
    const a = emu.adapter();
    t.like(await a.binLookup('4111 1111'), { brand: 'visa', productType: 'credit' });
    t.like(await a.binLookup('510510'), { productType: 'prepaid' });
    t.like(await a.binLookup('220220'), { brand: 'mir', productType: 'payroll' });
    t.like(await a.binLookup('400000'), { productType: 'debit' });
    t.is(await a.binLookup('12'), null);
    t.is(await a.binLookup('999999'), null);
  } finally {
    await emu.close();
  }
});
