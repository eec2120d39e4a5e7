import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { chromium } from 'playwright-core';
import { TOKENS, createTestHub, definePlugin, type DashboardPanel, type PayhubPlugin, type TestHub } from '@payhub/core';
import { createUser } from '../src/auth';
import { PageClient, ROOT, SELF, operatorPassword } from './helpers';

/*
 * Panels of other plugins (TOKENS.DashboardPanel) in the dashboard: a real hub (SQLite, or PostgreSQL with
 * PAYHUB_TEST_DB=postgres) with sandbox-bank, card, transaction-control, loyalty, mobile-topup (its sandbox operator
 * emulator on loopback) and the dashboard, all loaded from their package folders. Data is made through the public
 * API; the pages are read as a merchant's users and as the operator.
 */

const plugin = (name: string) => path.join(ROOT, 'plugins', name);
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const VISA = '4111111111111111';
const MC = '5555555555554444';
const XSS = '<script>alert("x")</script>';

/** A merchant panel of a plugin made for this test: hostile strings everywhere, and it echoes the merchant it was given. */
const probe: PayhubPlugin<unknown> = definePlugin<unknown>({
  name: 'panel-probe', version: '1.0.0', core: '^1.0.0',
  register(ctx) {
    ctx.provide(TOKENS.DashboardPanel, {
      useValue: {
        id: 'probe', audience: 'merchant', title: { en: 'Probe <i>title</i>', ru: 'Проба <i>заголовок</i>' },
        async load(q) {
          return {
            summary: [{ label: '<b>label</b>', value: XSS }],
            columns: [{ key: 'merchant', label: 'Merchant <u>id</u>' }, { key: 'html', label: 'HTML' }, { key: 'n', label: 'N' }, { key: 'empty', label: 'Empty' }],
            rows: [{ merchant: q.merchantId, html: XSS, n: 42, empty: null }],
            note: '<img src=x onerror=alert(1)>',
          };
        },
      } satisfies DashboardPanel,
    });
  },
});

interface Ctx {
  hub: TestHub;
  dataDir: string;
  a: { id: string; key: string };
  b: { id: string; key: string };
  pays: { aAllowed: string; aDenied: string; bAllowed: string };
  cards: { a: string; aCode: string; b: string };
  topups: { aOk: string; aUnknown: string; bOk: string };
  operatorPass: string;
}
const test = anyTest as TestFn<Ctx>;

async function payCard(hub: TestHub, key: string, orderId: string, pan = VISA) {
  const r = await hub.api('POST', `/v1/orders/${orderId}/payments`, { key, body: { method: 'card', card: { number: pan, exp_month: 12, exp_year: 2031, cvc: '123', holder: 'IVAN PETROV' } } });
  if (r.status !== 201) throw new Error(`payment not started: ${r.status} ${r.text}`);
  return r.body as { id: string; status: string; decline_reason: string | null };
}

let seq = 0;
async function pay(hub: TestHub, key: string, amount: number, pan = VISA) {
  const o = await hub.api('POST', '/v1/orders', { key, body: { order_number: `pn-${++seq}`, amount, currency: 'RUB' } });
  if (o.status !== 201) throw new Error(o.text);
  return payCard(hub, key, o.body.id, pan);
}

async function ok(r: Promise<{ status: number; text: string; body: unknown }>, status = 200) {
  const x = await r;
  if (x.status !== status) throw new Error(`${x.status} ${x.text}`);
  return x.body as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

test.before(async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-panels-'));
  const hub = await createTestHub({
    plugins: [
      { resolve: plugin('sandbox-bank') },
      { resolve: plugin('card') },
      { resolve: plugin('transaction-control') },
      { resolve: plugin('loyalty'), options: { worker: false } },
      { resolve: plugin('mobile-topup'), options: { worker: false, sandbox: { timeoutMs: 300 }, retryDelays: [600] } },
      { resolve: SELF, options: { dataDir, mailDir: path.join(dataDir, 'mail') } },
    ],
    inlinePlugins: [probe],
  });
  const admin = { authorization: `Bearer ${hub.config.adminToken}` };
  const a = await hub.createMerchant({ name: 'Shop A' });
  const b = await hub.createMerchant({ name: 'Shop <b>B</b>' });

  // transaction-control: one rule; an allowed and a denied attempt for A, an allowed one for B.
  for (const m of [a, b]) await ok(hub.api('PUT', '/v1/risk/rules', { key: m.key, body: { amount_per_transaction: [{ currency: 'RUB', max: 50_000 }] } }));
  const aAllowed = await pay(hub, a.key, 1000);
  const aDenied = await pay(hub, a.key, 60_000);
  const bAllowed = await pay(hub, b.key, 2000, MC);
  if (aAllowed.status !== 'captured' || aDenied.decline_reason !== 'risk_denied' || bAllowed.status !== 'captured') throw new Error('risk setup failed');

  // loyalty: a card per merchant (A's holder name is hostile), an earn each.
  await ok(hub.api('PUT', '/v1/loyalty/rules', { key: a.key, body: { earn_bps: 1000 } }));
  await ok(hub.api('PUT', '/v1/loyalty/rules', { key: b.key, body: { earn_bps: 500 } }));
  const ca = await ok(hub.api('POST', '/v1/loyalty/cards', { key: a.key, body: { holder: { name: XSS } } }), 201);
  const cb = await ok(hub.api('POST', '/v1/loyalty/cards', { key: b.key, body: { holder: { name: 'Holder of shop B' } } }), 201);
  const la = await ok(hub.api('POST', '/v1/loyalty/orders', { key: a.key, body: { card_number: ca.number, order_number: 'loy-a', amount: 4000, currency: 'RUB' } }), 201);
  const lb = await ok(hub.api('POST', '/v1/loyalty/orders', { key: b.key, body: { card_number: cb.number, order_number: 'loy-b', amount: 2000, currency: 'RUB' } }), 201);
  await payCard(hub, a.key, la.order_id);
  await payCard(hub, b.key, lb.order_id, MC);
  await ok(hub.api('POST', '/v1/loyalty/run', { headers: admin }));

  // mobile-topup: A's credited top-up and one whose answer never comes (…0000 → unknown); B's credited one.
  const topup = async (m: { key: string }, msisdn: string, amount: number) => {
    const t0 = await ok(hub.api('POST', '/v1/topups', { key: m.key, body: { msisdn, amount, currency: 'RUB' } }), 201);
    await payCard(hub, m.key, t0.order_id);
    return t0.id as string;
  };
  const aOk = await topup(a, '+79161234567', 15_000);
  const aUnknown = await topup(a, '+79161230000', 12_000);
  const bOk = await topup(b, '+79035550011', 10_000);
  await ok(hub.api('POST', '/v1/topups/run', { headers: admin }));
  const states = Object.fromEntries((await hub.db('mobile_topup_topups').select('id', 'status')).map((r: { id: string; status: string }) => [r.id, r.status]));
  if (states[aOk] !== 'processed' || states[aUnknown] !== 'unknown' || states[bOk] !== 'processed') throw new Error(`top-up setup: ${JSON.stringify(states)}`);

  // Dashboard users: A's owner and a read-only member, B's owner. The operator changes the one-time password.
  await createUser(hub.db, hub.clock, { email: 'owner@a.example', role: 'owner', merchantId: a.id, password: 'owner-a-pass-1' });
  await createUser(hub.db, hub.clock, { email: 'viewer@a.example', role: 'readonly', merchantId: a.id, password: 'viewer-a-pass-1' });
  await createUser(hub.db, hub.clock, { email: 'owner@b.example', role: 'owner', merchantId: b.id, password: 'owner-b-pass-1' });
  const op = operatorPassword(dataDir);
  const oc = new PageClient(hub.url);
  await oc.login(op.email, op.password);
  await oc.get('/dashboard/password');
  if ((await oc.post('/dashboard/password', { current: op.password, password: 'operator-pass-1', password2: 'operator-pass-1' })).status !== 302) throw new Error('operator password');

  t.context = {
    hub, dataDir, a, b, pays: { aAllowed: aAllowed.id, aDenied: aDenied.id, bAllowed: bAllowed.id },
    cards: { a: ca.number, aCode: ca.code, b: cb.number }, topups: { aOk, aUnknown, bOk }, operatorPass: 'operator-pass-1',
  };
});

test.after.always(async (t) => {
  await t.context.hub?.close();
  if (t.context.dataDir) fs.rmSync(t.context.dataDir, { recursive: true, force: true });
});

async function signedIn(t: { context: Ctx }, email: string, password: string): Promise<PageClient> {
  const c = new PageClient(t.context.hub.url);
  const r = await c.login(email, password);
  if (r.status !== 302) throw new Error(`login ${email}: ${r.status}`);
  return c;
}

const masked = (n: string) => `${n.slice(0, 4)}${'*'.repeat(n.length - 8)}${n.slice(-4)}`;

test('a merchant user sees the merchant panels in "More", never the operator ones; unknown or foreign ids are 404', async (t) => {
  const c = await signedIn(t, 'owner@a.example', 'owner-a-pass-1');
  const list = await c.get('/dashboard/panels');
  t.is(list.status, 200);
  for (const id of ['risk-decisions', 'loyalty', 'topups', 'probe']) t.true(list.text.includes(`data-panel-id="${id}"`), id);
  for (const id of ['risk-decisions-all', 'topups-stuck']) t.false(list.text.includes(`/dashboard/panels/${id}"`), id);
  // The navigation of every page lists them under "More".
  const overview = await c.get('/dashboard/overview');
  t.regex(overview.text, /<summary>More<\/summary><ul id="nav-panels">/);
  t.true(overview.text.includes('href="/dashboard/panels/topups"'));
  t.is((await c.get('/dashboard/panels/topups-stuck')).status, 404);
  t.is((await c.get('/dashboard/panels/risk-decisions-all')).status, 404);
  t.is((await c.get('/dashboard/panels/no-such-panel')).status, 404);
  // Signed out: the sign-in page.
  const anon = new PageClient(t.context.hub.url);
  const r = await anon.get('/dashboard/panels/loyalty');
  t.is(r.status, 302);
  t.regex(r.location ?? '', /^\/dashboard\/login\?next=/);
});

test('risk decisions: the merchant\'s own decisions with rules, masked card, 24 h counts and the decision filter', async (t) => {
  const { pays } = t.context;
  const c = await signedIn(t, 'owner@a.example', 'owner-a-pass-1');
  const page = await c.get('/dashboard/panels/risk-decisions');
  t.is(page.status, 200);
  t.true(page.text.includes(pays.aAllowed));
  t.true(page.text.includes(pays.aDenied));
  t.false(page.text.includes(pays.bAllowed), 'another merchant\'s decision never appears');
  t.true(page.text.includes('amount_per_transaction'));
  t.true(page.text.includes('411111******1111'));
  t.false(page.text.includes(VISA));
  // A: the 10.00 payment, the loyalty order and two top-ups allowed; the 600.00 one denied.
  t.regex(page.text, /<dt>Allowed, 24 h<\/dt><dd>4<\/dd>/);
  t.regex(page.text, /<dt>Denied, 24 h<\/dt><dd>1<\/dd>/);
  t.regex(page.text, /<dt>Sent to review, 24 h<\/dt><dd>0<\/dd>/);
  t.true(page.text.includes('600.00 RUB'));

  const denied = await c.get('/dashboard/panels/risk-decisions?decision=deny');
  t.is(denied.status, 200);
  t.true(denied.text.includes(pays.aDenied));
  t.false(denied.text.includes(pays.aAllowed));
  t.true(denied.text.includes('<option value="deny" selected>'));
  t.is((await c.get('/dashboard/panels/risk-decisions?decision=maybe')).status, 422);

  // B's owner sees B's decision only.
  const cb = await signedIn(t, 'owner@b.example', 'owner-b-pass-1');
  const pb = await cb.get('/dashboard/panels/risk-decisions');
  t.true(pb.text.includes(pays.bAllowed));
  t.false(pb.text.includes(pays.aAllowed));
  t.false(pb.text.includes(pays.aDenied));
  t.regex(pb.text, /<dt>Denied, 24 h<\/dt><dd>0<\/dd>/);

  // A read-only member may view.
  const v = await signedIn(t, 'viewer@a.example', 'viewer-a-pass-1');
  const pv = await v.get('/dashboard/panels/risk-decisions');
  t.is(pv.status, 200);
  t.true(pv.text.includes(pays.aDenied));
});

test('loyalty: cards and points from the ledger, masked card numbers, no secret code, holder names escaped; own cards only', async (t) => {
  const { cards } = t.context;
  const c = await signedIn(t, 'owner@a.example', 'owner-a-pass-1');
  const page = await c.get('/dashboard/panels/loyalty');
  t.is(page.status, 200);
  t.regex(page.text, /<dt>Active cards<\/dt><dd>1<\/dd>/);
  t.regex(page.text, /<dt>Points issued<\/dt><dd>400<\/dd>/, '10 % of 40.00 RUB');
  t.regex(page.text, /<dt>Points spent<\/dt><dd>0<\/dd>/);
  t.regex(page.text, /<dt>Points outstanding<\/dt><dd>400<\/dd>/);
  t.true(page.text.includes(masked(cards.a)));
  t.regex(masked(cards.a), /^9643\*{8}\d{4}$/);
  t.false(page.text.includes(cards.a), 'the full card number is never shown');
  t.false(page.text.includes(cards.aCode), 'the secret code is never shown');
  t.true(page.text.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'));
  t.false(page.text.includes(XSS));
  t.regex(page.text, /<td>earned<\/td><td class="num">400<\/td>/);
  t.false(page.text.includes('Holder of shop B'));
  t.false(page.text.includes(masked(cards.b)));

  const ru = await c.get('/dashboard/panels/loyalty?lang=ru');
  t.true(ru.text.includes('<h1>Программа лояльности</h1>'));
  t.regex(ru.text, /<dt>Начислено баллов<\/dt><dd>400<\/dd>/);
  t.true(ru.text.includes('<summary>Ещё</summary>'));
  await c.get('/dashboard/panels?lang=en');
});

test('top-ups: masked phone, amount, operator, status and credit outcome; another merchant\'s top-ups never appear', async (t) => {
  const { topups } = t.context;
  const c = await signedIn(t, 'owner@a.example', 'owner-a-pass-1');
  const page = await c.get('/dashboard/panels/topups');
  t.is(page.status, 200);
  t.true(page.text.includes('+7******4567'));
  t.true(page.text.includes('+7******0000'));
  t.false(page.text.includes('+79161234567'));
  t.false(page.text.includes('+7******0011'), 'B\'s top-up');
  t.false(page.text.includes(topups.bOk));
  t.true(page.text.includes('150.00 RUB'));
  t.true(page.text.includes('Sandbox'), 'the operator\'s display name');
  t.regex(page.text, new RegExp(`<td>credited</td><td>credited[^<]*</td><td>${topups.aOk}</td>`));
  t.regex(page.text, new RegExp(`<td>unknown</td><td>not confirmed yet \\(Status checks: 0\\)</td><td>${topups.aUnknown}</td>`));
  t.regex(page.text, /<dt>Credited<\/dt><dd>1<\/dd>/);
  t.regex(page.text, /<dt>Not confirmed yet<\/dt><dd>1<\/dd>/);
  const only = await c.get('/dashboard/panels/topups?status=processed');
  t.true(only.text.includes(topups.aOk));
  t.false(only.text.includes(topups.aUnknown));
  t.is((await c.get('/dashboard/panels/topups?status=lost')).status, 422);
});

test('panel data is escaped text: title, labels, values and note; the merchant id comes from the session, never the URL', async (t) => {
  const { a, b } = t.context;
  const c = await signedIn(t, 'owner@a.example', 'owner-a-pass-1');
  const page = await c.get(`/dashboard/panels/probe?merchant_id=${b.id}&merchantId=${b.id}`);
  t.is(page.status, 200);
  t.false(page.text.includes('<script>'));
  t.false(page.text.includes('<i>title</i>'));
  t.false(page.text.includes('<b>label</b>'));
  t.false(page.text.includes('<img'));
  t.true(page.text.includes('<h1>Probe &lt;i&gt;title&lt;/i&gt;</h1>'));
  t.true(page.text.includes('<dt>&lt;b&gt;label&lt;/b&gt;</dt>'));
  t.true(page.text.includes('&lt;img src=x onerror=alert(1)&gt;'));
  t.true(page.text.includes(`<td>${a.id}</td>`));
  t.false(page.text.includes(b.id));
  t.true(page.text.includes('<td class="num">42</td>'));
  t.true(page.text.includes('<td>—</td>'));
});

test('the operator sees the operator panels only: decisions across merchants, stuck and unknown credits', async (t) => {
  const { pays, topups, a, b, operatorPass } = t.context;
  const c = await signedIn(t, 'operator@localhost', operatorPass);
  const list = await c.get('/dashboard/panels');
  t.is(list.status, 200);
  t.true(list.text.includes('data-panel-id="risk-decisions-all"'));
  t.true(list.text.includes('data-panel-id="topups-stuck"'));
  for (const id of ['risk-decisions', 'loyalty', 'topups', 'probe']) t.false(list.text.includes(`data-panel-id="${id}"`), id);
  t.is((await c.get('/dashboard/panels/loyalty')).status, 404);
  t.is((await c.get('/dashboard/panels/probe')).status, 404);

  const risk = await c.get('/dashboard/panels/risk-decisions-all');
  t.is(risk.status, 200);
  for (const id of [pays.aAllowed, pays.aDenied, pays.bAllowed]) t.true(risk.text.includes(id));
  t.true(risk.text.includes(`Shop &lt;b&gt;B&lt;/b&gt; (${b.id})`));
  t.false(risk.text.includes('<b>B</b>'));
  t.regex(risk.text, /<dt>Allowed, 24 h<\/dt><dd>7<\/dd>/, 'A: 4, B: the payment, the loyalty order, the top-up');
  t.regex(risk.text, /<dt>Denied, 24 h<\/dt><dd>1<\/dd>/);
  t.regex(risk.text, /<dt>Merchants with denials, 24 h<\/dt><dd>1<\/dd>/);
  const denied = await c.get('/dashboard/panels/risk-decisions-all?decision=deny');
  t.true(denied.text.includes(pays.aDenied));
  t.false(denied.text.includes(pays.bAllowed));

  const stuck = await c.get('/dashboard/panels/topups-stuck');
  t.is(stuck.status, 200);
  t.true(stuck.text.includes(topups.aUnknown));
  t.true(stuck.text.includes('+7******0000'));
  t.true(stuck.text.includes(a.id));
  t.false(stuck.text.includes(topups.aOk), 'a credited top-up is not stuck');
  t.false(stuck.text.includes(topups.bOk));
  t.regex(stuck.text, /<dt>Unknown<\/dt><dd>1<\/dd>/);
});

test('browser: panels at 360 px do not overflow the page; "More" opens the list', async (t) => {
  const { hub } = t.context;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run'],
  });
  t.teardown(() => browser.close());
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'en-US' });
  const page = await ctx.newPage();
  await page.goto(`${hub.url}/dashboard/login`);
  await page.getByLabel('E-mail').fill('owner@a.example');
  await page.getByLabel('Password').fill('owner-a-pass-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/dashboard/overview');
  await page.locator('nav summary').click();
  await page.locator('#nav-panels').getByRole('link', { name: 'Top-ups' }).click();
  await page.waitForURL('**/dashboard/panels/topups');
  for (const id of ['topups', 'risk-decisions', 'loyalty']) {
    await page.goto(`${hub.url}/dashboard/panels/${id}`);
    t.true(await page.locator('#panel-rows tbody tr').count() >= 1, id);
    await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-panel-${id}-360.png`), fullPage: true });
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth') as number;
    t.true(overflow <= 1, `${id} overflows at 360 px by ${overflow}px`);
  }
  await page.goto(`${hub.url}/dashboard/panels/risk-decisions`);
  await page.getByLabel('Decision').selectOption('deny');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.waitForURL('**/dashboard/panels/risk-decisions?decision=deny');
  t.is(await page.locator('#panel-rows tbody tr').count(), 1);
});
