/**
 * The emulator over HTTP: signatures, idempotency by reference, 3-D Secure pages, BINs, accounts, reconciliation.
 */
import test from 'ava';
import { CHALLENGE_TTL_MS } from '../src/bank';
import { DEV_TERMINAL_SECRET, SandboxBankServer } from '../src/server';
import { TEST_CARDS, lookupBin, BIN_TABLE } from '../src/cards';
import { card, getJson, postJson, ref, signedFetch, startEmulator, FUTURE_YEAR } from './helpers';

const authorizeBody = (reference: string, number: string, extra: Record<string, unknown> = {}) => ({
  reference, amount: 10_000, currency: 'RUB', capture: false, source: card(number), ...extra,
});

test('the bank refuses unsigned, badly signed and stale requests, and charges nothing', async (t) => {
  const emu = await startEmulator();
  try {
    const body = authorizeBody(ref(), TEST_CARDS.visa);
    const unsigned = await signedFetch(emu.url, 'POST', '/api/v1/authorize', body, null);
    t.is(unsigned.status, 401);
    t.is(unsigned.body.error, 'signature_refused');
    const wrong = await signedFetch(emu.url, 'POST', '/api/v1/authorize', body, 'not-the-terminal-secret');
    t.is(wrong.status, 401);
    const stale = await signedFetch(emu.url, 'POST', '/api/v1/authorize', body, DEV_TERMINAL_SECRET, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    t.is(stale.status, 401);
    t.regex(String(stale.body.message), /stale/);
    t.deepEqual((await getJson(`${emu.url}/ledger`)).body.operations, []);
    const ok = await signedFetch(emu.url, 'POST', '/api/v1/authorize', body, DEV_TERMINAL_SECRET);
    t.is(ok.status, 200);
    t.is(ok.body.status, 'authorized');
    t.is((await getJson(`${emu.url}/ledger`)).body.operations.length, 1);
  } finally {
    await emu.close();
  }
});

test('the response never echoes the card number; the ledger keeps it masked', async (t) => {
  const emu = await startEmulator();
  try {
    const r = await signedFetch(emu.url, 'POST', '/api/v1/authorize', authorizeBody(ref(), TEST_CARDS.mastercard), DEV_TERMINAL_SECRET);
    t.false(JSON.stringify(r.body).includes(TEST_CARDS.mastercard));
    t.deepEqual(r.body.source, { type: 'card', maskedPan: '555555******4444', brand: 'mastercard' });
    const ledger = await getJson(`${emu.url}/ledger`);
    t.false(JSON.stringify(ledger.body).includes(TEST_CARDS.mastercard));
    t.is(ledger.body.operations[0].funds, '555555******4444');
  } finally {
    await emu.close();
  }
});

test('a repeated authorize replays the first answer; ten concurrent ones charge once', async (t) => {
  const emu = await startEmulator({ latencyMs: 5 });
  try {
    const reference = ref();
    const body = authorizeBody(reference, TEST_CARDS.visa);
    const answers = await Promise.all(Array.from({ length: 10 }, () => signedFetch(emu.url, 'POST', '/api/v1/authorize', body, DEV_TERMINAL_SECRET)));
    t.true(answers.every((a) => a.status === 200 && a.body.status === 'authorized'));
    t.is(new Set(answers.map((a) => a.body.bankRef)).size, 1);
    t.is(new Set(answers.map((a) => a.body.authCode)).size, 1);
    const details = await getJson(`${emu.url}/payments/${reference}`);
    t.is(details.body.replays, 9);
    t.is(details.body.operations.filter((o: { kind: string }) => o.kind === 'authorize').length, 1);
    // Same reference, different amount: refused, the first payment is untouched.
    const clash = await signedFetch(emu.url, 'POST', '/api/v1/authorize', { ...body, amount: 1 }, DEV_TERMINAL_SECRET);
    t.is(clash.status, 409);
    t.is(clash.body.error, 'reference_conflict');
    t.is((await getJson(`${emu.url}/payments/${reference}`)).body.authorized, 10_000);
  } finally {
    await emu.close();
  }
});

test('invalid amounts, currencies and sources are refused with the field named', async (t) => {
  const emu = await startEmulator();
  try {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ amount: 10.5 }, 'amount'],
      [{ amount: -1 }, 'amount'],
      [{ amount: 0 }, 'amount'],
      [{ currency: 'XXX' }, 'currency'],
      [{ currency: 'rub' }, 'currency'],
      [{ source: { type: 'cash' } }, 'source.type'],
      [{ reference: 'has spaces' }, 'reference'],
    ];
    for (const [patch, field] of cases) {
      const r = await signedFetch(emu.url, 'POST', '/api/v1/authorize', { ...authorizeBody(ref(), TEST_CARDS.visa), ...patch }, DEV_TERMINAL_SECRET);
      t.is(r.status, 422, JSON.stringify(patch));
      t.is(r.body.field, field);
    }
    t.deepEqual((await getJson(`${emu.url}/ledger`)).body.operations, []);
  } finally {
    await emu.close();
  }
});

test('test cards: approvals, declines, Luhn and expiry', async (t) => {
  const emu = await startEmulator();
  try {
    const auth = async (number: string, expYear = FUTURE_YEAR, expMonth = 12) =>
      (await signedFetch(emu.url, 'POST', '/api/v1/authorize', { ...authorizeBody(ref(), number), source: card(number, expMonth, expYear) }, DEV_TERMINAL_SECRET)).body;
    for (const pan of [TEST_CARDS.visa, TEST_CARDS.mastercard, TEST_CARDS.mir, '4242424242424242']) {
      t.is((await auth(pan)).status, 'authorized', pan);
    }
    t.like(await auth(TEST_CARDS.doNotHonor), { status: 'declined', declineReason: 'do_not_honor' });
    t.like(await auth(TEST_CARDS.insufficientFunds), { status: 'declined', declineReason: 'insufficient_funds' });
    t.like(await auth('4111111111111112'), { status: 'declined', declineReason: 'invalid_card_number' });
    t.like(await auth(TEST_CARDS.visa, 2020, 1), { status: 'declined', declineReason: 'expired_card' });
    const mir = await auth(TEST_CARDS.mir);
    t.is((mir.source as { brand?: string }).brand, 'mir');
  } finally {
    await emu.close();
  }
});

test('BIN lookup follows the documented table', async (t) => {
  const emu = await startEmulator();
  try {
    const bin = async (b: string) => signedFetch(emu.url, 'GET', `/api/v1/bins/${b}`, undefined, DEV_TERMINAL_SECRET);
    t.like((await bin('411111')).body, { brand: 'visa', productType: 'credit' });
    t.like((await bin('555555')).body, { brand: 'mastercard', productType: 'credit' });
    t.like((await bin('510510')).body, { brand: 'mastercard', productType: 'prepaid' });
    t.like((await bin('22022012')).body, { brand: 'mir', productType: 'payroll' });
    t.like((await bin('220000')).body, { brand: 'mir', productType: 'debit' });
    t.like((await bin('424242')).body, { brand: 'visa', productType: 'debit' });
    t.is((await bin('999999')).status, 404);
    // Every documented row answers what the table says.
    for (const row of BIN_TABLE) t.like(lookupBin(row.prefix), { brand: row.brand, productType: row.productType });
  } finally {
    await emu.close();
  }
});

test('3-D Secure: the page has a code field; 123456 approves and redirects to the return URL', async (t) => {
  const emu = await startEmulator();
  try {
    const reference = ref();
    const returnUrl = 'https://shop.example/return?attempt=1';
    const a = await signedFetch(emu.url, 'POST', '/api/v1/authorize', authorizeBody(reference, TEST_CARDS.challenge, { returnUrl }), DEV_TERMINAL_SECRET);
    t.is(a.body.status, 'challenge_required');
    t.is(a.body.challengeUrl, `${emu.url}/3ds/${reference}`);
    const page = await fetch(a.body.challengeUrl as string);
    const html = await page.text();
    t.is(page.status, 200);
    t.regex(page.headers.get('content-type') ?? '', /text\/html/);
    t.regex(html, /<input[^>]+name="code"/);
    t.regex(html, /400000\*+3220/);
    t.false(html.includes(TEST_CARDS.challenge));
    const post = await fetch(a.body.challengeUrl as string, {
      method: 'POST', body: new URLSearchParams({ code: '123456' }), redirect: 'manual',
    });
    t.is(post.status, 302);
    t.is(post.headers.get('location'), returnUrl);
    const after = await signedFetch(emu.url, 'GET', `/api/v1/payments/${reference}`, undefined, DEV_TERMINAL_SECRET);
    t.like(after.body, { status: 'authorized', authorized: 10_000 });
    t.is(after.body.challengeUrl, undefined);
    // A second submission (even with a wrong code) changes nothing.
    await fetch(a.body.challengeUrl as string, { method: 'POST', body: new URLSearchParams({ code: '000000' }), redirect: 'manual' });
    t.is((await signedFetch(emu.url, 'GET', `/api/v1/payments/${reference}`, undefined, DEV_TERMINAL_SECRET)).body.status, 'authorized');
  } finally {
    await emu.close();
  }
});

test('3-D Secure: a wrong code declines; an expired challenge declines', async (t) => {
  let now = new Date();
  const emu = await startEmulator({ now: () => now });
  try {
    const r1 = ref();
    const a = await signedFetch(emu.url, 'POST', '/api/v1/authorize', authorizeBody(r1, TEST_CARDS.challenge, { returnUrl: 'https://shop.example/r' }), DEV_TERMINAL_SECRET);
    const post = await fetch(a.body.challengeUrl as string, { method: 'POST', body: new URLSearchParams({ code: '654321' }), redirect: 'manual' });
    t.is(post.status, 302);
    t.like((await getJson(`${emu.url}/payments/${r1}`)).body, { status: 'declined', declineReason: 'authentication_failed' });

    const r2 = ref();
    const b = await signedFetch(emu.url, 'POST', '/api/v1/authorize', authorizeBody(r2, TEST_CARDS.challenge), DEV_TERMINAL_SECRET);
    t.is(b.body.status, 'challenge_required');
    now = new Date(now.getTime() + CHALLENGE_TTL_MS + 1000);
    const late = await fetch(b.body.challengeUrl as string, { method: 'POST', body: new URLSearchParams({ code: '123456' }), redirect: 'manual' });
    t.is(late.status, 200); // no returnUrl: the page says it is finished
    t.regex(await late.text(), /declined/);
    t.like((await getJson(`${emu.url}/payments/${r2}`)).body, { status: 'declined', declineReason: 'challenge_expired' });
    t.is((await fetch(`${emu.url}/3ds/nope`)).status, 404);
  } finally {
    await emu.close();
  }
});

test('accounts: admin API validates input and reports balances', async (t) => {
  const emu = await startEmulator();
  try {
    t.is((await postJson(`${emu.url}/accounts`, { accountNumber: 'A-1', balance: 1.5, currency: 'RUB' })).status, 422);
    t.is((await postJson(`${emu.url}/accounts`, { accountNumber: 'A-1', balance: -1, currency: 'RUB' })).status, 422);
    t.is((await postJson(`${emu.url}/accounts`, { accountNumber: 'A-1', balance: 100, currency: 'ZZZ' })).body.field, 'currency');
    const created = await postJson(`${emu.url}/accounts`, { accountNumber: 'A-1', balance: 5000, currency: 'RUB' });
    t.is(created.status, 201);
    t.deepEqual(created.body, { accountNumber: 'A-1', balance: 5000, currency: 'RUB', blocked: false });
    t.deepEqual((await getJson(`${emu.url}/accounts/A-1`)).body, created.body);
    t.is((await getJson(`${emu.url}/accounts/none`)).status, 404);
  } finally {
    await emu.close();
  }
});

test('the standalone server can be started twice on port 0 and closed', async (t) => {
  const a = new SandboxBankServer();
  const b = new SandboxBankServer();
  const [ua, ub] = await Promise.all([a.start(), b.start()]);
  t.not(ua, ub);
  t.regex(ua, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.deepEqual((await getJson(`${ua}/health`)).body, { ok: true });
  await Promise.all([a.close(), b.close()]);
  await t.throwsAsync(fetch(`${ua}/health`));
});
