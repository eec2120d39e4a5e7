import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createTestHub, definePlugin, TOKENS, type PaymentMethod, type TestHub } from '@payhub/core';
import plugin, { canonicalString, formatAmount, parseExpiry, signSnippet, snippetCommand, type SnippetFields } from '../src/index';
import { csrfOf, PLUGINS, startHub, YEAR } from './helpers';

let hub: TestHub;
let m: Awaited<ReturnType<TestHub['createMerchant']>>;

test.before(async () => {
  hub = await startHub();
  m = await hub.createMerchant({ name: 'Coffee & Co' });
});
test.after.always(async () => {
  await hub?.close();
});

async function order(extra: Record<string, unknown> = {}, key = m.key) {
  const r = await hub.api('POST', '/v1/orders', {
    key, body: { order_number: `o-${crypto.randomBytes(5).toString('hex')}`, amount: 123456, currency: 'RUB', description: 'Two cups', return_url: 'https://shop.example/back?x=1', ...extra },
  });
  if (r.status !== 201) throw new Error(`order: ${r.status} ${r.text}`);
  return r.body as { id: string; pay_url: string; order_number: string };
}

function cardForm(csrf: string, card: Partial<Record<'card_number' | 'card_exp' | 'card_cvc' | 'card_holder', string>> = {}) {
  return { csrf, lang: 'en', method: 'card', card_number: '4111 1111 1111 1111', card_exp: `12/${YEAR}`, card_cvc: '123', card_holder: 'IVAN PETROV', ...card };
}

test('the pay page: summary in the buyer\'s language, strict CSP without inline script, SRI, no-store', async (t) => {
  const o = await order();
  t.true(o.pay_url.endsWith(`/pay/${o.id}`));
  const r = await hub.api('GET', `/pay/${o.id}`, { headers: { 'accept-language': 'ru-RU,ru;q=0.9' } });
  t.is(r.status, 200);
  t.regex(r.headers['content-type']!, /text\/html/);
  t.regex(r.text, /<html lang="ru">/);
  t.true(r.text.includes('Оплата заказа'));
  t.true(r.text.includes('Coffee &amp; Co'));
  t.true(r.text.includes(formatAmount(123456, 'RUB', 'ru')));
  t.true(formatAmount(123456, 'RUB', 'ru').startsWith('1\u00a0234,56'));
  const csp = r.headers['content-security-policy']!;
  t.truthy(csp);
  t.regex(csp, /script-src 'self'(;|$)/);
  t.regex(csp, /style-src 'self'(;|$)/);
  t.false(csp.includes('unsafe-inline'));
  t.false(csp.includes('unsafe-eval'));
  t.regex(csp, /frame-ancestors 'none'/);
  t.is(r.headers['cache-control'], 'no-store');
  t.is(r.headers['x-content-type-options'], 'nosniff');
  t.is(r.headers['referrer-policy'], 'no-referrer');
  t.false(/<script>|<script [^>]*>[^<]+<\/script>|\sstyle="|\son[a-z]+="/i.test(r.text), 'no inline script, style or handler');
  // Subresource Integrity of the page script matches the bytes served.
  const m1 = /<script src="([^"]+)" integrity="(sha384-[^"]+)"/.exec(r.text)!;
  t.truthy(m1);
  const js = await fetch(hub.url + m1[1]!.replace(/&amp;/g, '&'));
  const bytes = Buffer.from(await js.arrayBuffer());
  t.is(m1[2], `sha384-${crypto.createHash('sha384').update(bytes).digest('base64')}`);
  t.is(js.headers.get('x-content-type-options'), 'nosniff');
  // Card fields: autocomplete and numeric keyboards.
  t.regex(r.text, /id="card_number"[^>]*inputmode="numeric"[^>]*autocomplete="cc-number"/);
  t.regex(r.text, /autocomplete="cc-exp"/);
  t.regex(r.text, /autocomplete="cc-csc"/);
  t.regex(r.text, /autocomplete="cc-name"/);
  const de = await hub.api('GET', `/pay/${o.id}?lang=de`, { headers: { 'accept-language': 'ru' } });
  t.true(de.text.includes('Bestellung bezahlen'));
  t.true(de.text.includes(formatAmount(123456, 'RUB', 'de')));
  const en = await hub.api('GET', `/pay/${o.id}`);
  t.true(en.text.includes('Order payment'));
});

test('amounts are formatted per locale from minor units, exactly', (t) => {
  t.is(formatAmount(123456, 'RUB', 'ru'), '1\u00a0234,56\u00a0₽');
  t.is(formatAmount(500, 'JPY', 'en'), 'JP¥500');
  t.is(formatAmount(1234, 'KWD', 'de'), '1,234\u00a0KWD');
  t.is(formatAmount(999_999_999_999, 'USD', 'en'), 'US$9,999,999,999.99');
  t.deepEqual(parseExpiry('07/29'), { month: '07', year: '2029' });
  t.deepEqual(parseExpiry('7 / 2031'), { month: '7', year: '2031' });
  t.is(parseExpiry('13'), null);
});

test('unknown order → 404 page', async (t) => {
  const r = await hub.api('GET', '/pay/ord_doesnotexist123');
  t.is(r.status, 404);
  t.regex(r.text, /Order not found/);
});

test('a post without the CSRF token is refused and starts no payment', async (t) => {
  const o = await order();
  const r = await hub.api('POST', `/pay/${o.id}`, { form: { ...cardForm(''), csrf: 'f'.repeat(64) } });
  t.is(r.status, 403);
  t.false(r.text.includes('4111'));
  const other = await order();
  const page = await hub.api('GET', `/pay/${other.id}`);
  // Another order's token does not work either.
  const r2 = await hub.api('POST', `/pay/${o.id}`, { form: cardForm(csrfOf(page.text)) });
  t.is(r2.status, 403);
  t.is((await hub.db('payment_attempts').where({ order_id: o.id })).length, 0);
});

test('card errors come back next to the field; the number is never echoed', async (t) => {
  const o = await order();
  const csrf = csrfOf((await hub.api('GET', `/pay/${o.id}`)).text);
  const r = await hub.api('POST', `/pay/${o.id}`, { form: cardForm(csrf, { card_number: '4111 1111 1111 1112', card_cvc: '12' }) });
  t.is(r.status, 422);
  t.regex(r.text, /id="card_number-error">Check the card number</);
  t.regex(r.text, /id="card_number"[^>]*aria-describedby="card_number-error"[^>]*aria-invalid="true"/);
  t.false(r.text.includes('4111 1111 1111 1112'));
  t.false(r.text.includes('4111111111111112'));
  t.regex(r.text, /role="alert"><p>/);
  t.is(r.headers['cache-control'], 'no-store');
  t.true(r.text.includes('IVAN PETROV'), 'the holder is kept');
  t.false(hub.logs.some((l) => l.includes('4111111111111112') || l.includes('4111 1111 1111 1112')));
});

test('an approved card without JavaScript: POST → 303 → the paid page with the way back to the shop', async (t) => {
  const o = await order();
  const csrf = csrfOf((await hub.api('GET', `/pay/${o.id}?lang=en`)).text);
  const r = await hub.api('POST', `/pay/${o.id}`, { form: cardForm(csrf) });
  t.is(r.status, 303);
  t.is(r.headers.location, `/pay/${o.id}?lang=en`);
  const after = await hub.api('GET', r.headers.location!);
  t.is(after.status, 200);
  t.regex(after.text, /Payment successful/);
  t.regex(after.text, /href="https:\/\/shop\.example\/back\?x=1&amp;order_id=ord_[^"&]+&amp;status=paid"/);
  t.is((await hub.payments.getOrder(o.id))!.status, 'paid');
  // Paying again is not possible: the page shows the result.
  const again = await hub.api('POST', `/pay/${o.id}`, { form: cardForm(csrf) });
  t.is(again.status, 303);
  t.is((await hub.db('payment_attempts').where({ order_id: o.id })).length, 1);
});

test('rate limit: the 11th payment attempt on an order within 10 minutes gets a 429 page', async (t) => {
  const o = await order();
  const csrf = csrfOf((await hub.api('GET', `/pay/${o.id}`)).text);
  for (let i = 0; i < 10; i++) {
    const r = await hub.api('POST', `/pay/${o.id}`, { form: cardForm(csrf, { card_cvc: '' }) });
    t.is(r.status, 422);
  }
  const r = await hub.api('POST', `/pay/${o.id}`, { form: cardForm(csrf) });
  t.is(r.status, 429);
  t.regex(r.text, /Too many payment attempts/);
  t.truthy(Number(r.headers['retry-after']) > 0);
  t.is((await hub.db('payment_attempts').where({ order_id: o.id })).length, 0);
  t.is(await hub.db('checkout_rate_hits').where({ order_id: o.id }).count({ n: '*' }).then((x) => Number(x[0]!.n)), 11);
  // Another order is not affected; after the window this one is allowed again.
  hub.clock.advance(10 * 60_000 + 1000);
  const later = await hub.api('POST', `/pay/${o.id}`, { form: cardForm(csrf) });
  hub.clock.advance(-(10 * 60_000 + 1000));
  t.is(later.status, 303);
});

function snippetFields(o: Partial<SnippetFields> = {}): SnippetFields {
  return {
    merchant_id: m.id, order_number: `s-${crypto.randomBytes(4).toString('hex')}`, amount: '19900', currency: 'RUB',
    description: 'Tea | 2 pcs', return_url: 'https://shop.example/thanks', ...o,
  };
}

test('snippet: a signed form creates the order once and redirects to the pay page', async (t) => {
  const f = snippetFields();
  t.is(canonicalString(f), `${m.id}|${f.order_number}|19900|RUB|Tea | 2 pcs|https://shop.example/thanks`);
  const signature = signSnippet(m.formKey, f);
  const r = await hub.api('POST', '/pay', { form: { ...f, signature } });
  t.is(r.status, 303);
  const id = /^\/pay\/(ord_[0-9A-Za-z]+)/.exec(r.headers.location!)![1]!;
  const o = (await hub.payments.getOrder(id))!;
  t.is(o.amount, 19900);
  t.is(o.orderNumber, f.order_number);
  t.is(o.description, 'Tea | 2 pcs');
  t.is(o.returnUrl, 'https://shop.example/thanks');
  const again = await hub.api('POST', '/pay', { form: { ...f, signature: signature.toUpperCase() } });
  t.is(again.status, 303);
  t.is(again.headers.location, r.headers.location);
  // Same order number, another amount (correctly signed): refused.
  const f2 = { ...f, amount: '29900' };
  const other = await hub.api('POST', '/pay', { form: { ...f2, signature: signSnippet(m.formKey, f2) } });
  t.is(other.status, 409);
  t.is((await hub.db('orders').where({ merchant_id: m.id, order_number: f.order_number })).length, 1);
});

test('snippet: a tampered amount or a bad signature → 403 page and no order', async (t) => {
  const f = snippetFields();
  const signature = signSnippet(m.formKey, f);
  const tampered = await hub.api('POST', '/pay', { form: { ...f, amount: '100', signature } });
  t.is(tampered.status, 403);
  t.regex(tampered.headers['content-type']!, /text\/html/);
  t.regex(tampered.text, /signature is wrong/);
  const bad = await hub.api('POST', '/pay', { form: { ...f, signature: '0'.repeat(64) } });
  t.is(bad.status, 403);
  const other = await hub.createMerchant({ name: 'Other' });
  const wrongKey = await hub.api('POST', '/pay', { form: { ...f, signature: signSnippet(other.formKey, f) } });
  t.is(wrongKey.status, 403);
  const missing = await hub.api('POST', '/pay', { form: { ...f, amount: '1.5', signature } });
  t.is(missing.status, 400);
  t.is((await hub.db('orders').where({ order_number: f.order_number })).length, 0);
});

test('GET /payhub.js serves the snippet script for other origins', async (t) => {
  const r = await hub.api('GET', '/payhub.js');
  t.is(r.status, 200);
  t.regex(r.headers['content-type']!, /javascript/);
  t.is(r.headers['access-control-allow-origin'], '*');
  t.regex(r.text, /currentScript/);
});

test('payhub snippet command prints a signed script tag that the hub accepts', async (t) => {
  const cmd = plugin.commands!.find((c) => c.name === 'snippet')!;
  t.is(cmd, snippetCommand);
  let out = '';
  const orig = process.stdout.write.bind(process.stdout);
  (process.stdout as { write: unknown }).write = (s: string) => {
    out += s;
    return true;
  };
  let code: number | void;
  try {
    code = await cmd.run(['--merchant', m.id, '--amount', '45000', '--order', 'cli-1', '--description', 'Gift card', '--return-url', 'https://shop.example/ok'],
      { container: hub.container, options: {}, logger: hub.hub.logger, config: hub.config, db: hub.db, role: 'cli' });
  } finally {
    (process.stdout as { write: unknown }).write = orig;
  }
  t.is(code, 0);
  t.regex(out, /^<script src="http:\/\/[^"]+\/payhub\.js"/);
  t.regex(out, /integrity="sha384-[A-Za-z0-9+/=]+"/);
  const attr = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(out)![1]!;
  const f: SnippetFields = {
    merchant_id: attr('data-merchant'), order_number: attr('data-order'), amount: attr('data-amount'), currency: attr('data-currency'),
    description: attr('data-description'), return_url: attr('data-return-url'),
  };
  t.is(f.amount, '45000');
  t.is(f.currency, 'RUB');
  const r = await hub.api('POST', '/pay', { form: { ...f, signature: attr('data-signature') } });
  t.is(r.status, 303);
  const errWrite = process.stderr.write.bind(process.stderr);
  let err = '';
  (process.stderr as { write: unknown }).write = (s: string) => {
    err += s;
    return true;
  };
  try {
    const bad = await cmd.run(['--merchant', m.id, '--amount', '12.50', '--order', 'x'], { container: hub.container, options: {}, logger: hub.hub.logger, config: hub.config, db: hub.db });
    t.is(bad, 2);
  } finally {
    (process.stderr as { write: unknown }).write = errWrite;
  }
  t.regex(err, /--amount must be a positive whole number/);
});

test('theme API: validation, storage, per-merchant stylesheet and frame-ancestors', async (t) => {
  const m = await hub.createMerchant({ name: 'Themed shop' });
  const bad = await hub.api('PUT', '/v1/checkout-theme', {
    key: m.key,
    body: {
      colors: { primary: 'red' }, radius: 40, font_stack: 'Arial; } body { x', logo_url: 'http://logo.example/x.png',
      custom_css: '@import "https://x.example/a.css"; .a{background:url(http://evil.example/x)}', frame_ancestors: ['http://shop.example'],
      template: '<%= it %>',
    },
  });
  t.is(bad.status, 422);
  const fields = (bad.body.errors as Array<{ field: string; message: string }>).map((e) => e.field);
  for (const f of ['colors.primary', 'radius', 'font_stack', 'logo_url', 'custom_css', 'frame_ancestors.0', 'template']) t.true(fields.includes(f), f);
  t.regex(bad.body.errors.find((e: { field: string }) => e.field === 'template').message, /not supported/);
  for (const css of ['</style><script>', 'a{behavior:url(x.htc)}', 'a{width:expression(alert(1))}', 'a{background:url("javascript:alert(1)")}', 'a{b\\61ckground:red}', 'x'.repeat(10 * 1024 + 1)]) {
    const r = await hub.api('PUT', '/v1/checkout-theme', { key: m.key, body: { custom_css: css } });
    t.is(r.status, 422, css.slice(0, 30));
  }
  t.is((await hub.api('PUT', '/v1/checkout-theme', { body: {} })).status, 401);
  const theme = {
    colors: { primary: '#0A7D33', background: '#fafafa' }, radius: 4, font_stack: "Georgia, 'Times New Roman', serif",
    custom_css: '.shop-name { letter-spacing: .02em; background: url("https://cdn.example/bg.png"); }',
    frame_ancestors: ['https://shop.example'], logo_url: 'https://cdn.example/logo.png',
  };
  const ok = await hub.api('PUT', '/v1/checkout-theme', { key: m.key, body: theme });
  t.is(ok.status, 200);
  const got = await hub.api('GET', '/v1/checkout-theme', { key: m.key });
  t.is(got.body.theme.colors.primary, '#0a7d33');
  const o = await order({}, m.key);
  const page = await hub.api('GET', `/pay/${o.id}`);
  t.regex(page.headers['content-security-policy']!, /frame-ancestors https:\/\/shop\.example/);
  const href = /<link rel="stylesheet" href="(\/pay\/theme\/[^"]+)"/.exec(page.text)![1]!.replace(/&amp;/g, '&');
  const css = await hub.api('GET', href);
  t.regex(css.headers['content-type']!, /text\/css/);
  t.regex(css.text, /--ph-primary: #0a7d33;/);
  t.regex(css.text, /--ph-radius: 4px;/);
  t.true(css.text.includes('letter-spacing'));
  t.true(page.text.includes('src="https://cdn.example/logo.png"'));
});

test('preview renders a fake order with the given theme and cannot pay', async (t) => {
  const theme = Buffer.from(JSON.stringify({ colors: { primary: '#aa0000' } })).toString('base64url');
  const r = await hub.api('GET', `/pay/preview?theme=${theme}&lang=en`);
  t.is(r.status, 200);
  t.true(r.text.includes('Preview: no payment possible'));
  t.false(/<form[^>]*id="card-form"[^>]*action=/.test(r.text));
  t.regex(r.text, /aria-disabled="true"/);
  const css = await hub.api('GET', `/pay/theme/preview.css?theme=${theme}`);
  t.regex(css.text, /--ph-primary: #aa0000;/);
  const bad = await hub.api('GET', `/pay/preview?theme=${Buffer.from('{"radius":99}').toString('base64url')}`);
  t.is(bad.status, 422);
  t.is((await hub.db('orders').where({ id: 'ord_preview' })).length, 0);
});

test('demo shop: only when demo is enabled; Buy → pay page; the return page shows the status', async (t) => {
  t.is((await hub.api('GET', '/demo')).status, 404);
  const demoHub = await startHub({ demo: { enabled: true } });
  t.teardown(() => demoHub.close());
  t.truthy(await demoHub.hub.ensureDemoMerchant(), 'the demo merchant of an empty database');
  const page = await demoHub.api('GET', '/demo?lang=ru');
  t.is(page.status, 200);
  t.true(page.text.includes('Демо-магазин'));
  t.true(page.text.includes('499,00'));
  const buy = await demoHub.api('POST', '/demo/buy', { form: { csrf: csrfOf(page.text), product: 'mug', lang: 'ru' } });
  t.is(buy.status, 303);
  const id = /^\/pay\/(ord_[0-9A-Za-z]+)/.exec(buy.headers.location!)![1]!;
  const o = (await demoHub.payments.getOrder(id))!;
  t.is(o.amount, 49900);
  t.regex(o.returnUrl!, /\/demo\/return\?lang=ru$/);
  const pay = await demoHub.api('GET', buy.headers.location!);
  const r = await demoHub.api('POST', `/pay/${id}`, { form: { ...cardForm(csrfOf(pay.text)), lang: 'ru' } });
  t.is(r.status, 303);
  const result = await demoHub.api('GET', r.headers.location!);
  const back = /id="back-to-shop" href="([^"]+)"/.exec(result.text)![1]!.replace(/&amp;/g, '&');
  const ret = await demoHub.api('GET', new URL(back).pathname + new URL(back).search);
  t.is(ret.status, 200);
  t.regex(ret.text, /data-order-status="paid"/);
  t.regex(ret.text, /оплачен/);
  const en = await demoHub.api('GET', `/demo/return?order_id=${id}&lang=en`);
  t.regex(en.text, /id="order-status">paid</);
});

test('README documents the canonical string', (t) => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../../README.md'), 'utf8');
  t.true(readme.includes('merchant_id|order_number|amount|currency|description|return_url'));
});

/** Wallet-like methods of other plugins: a form next action and a redirect next action. */
function walletMethod(id: string, next: Record<string, unknown>, currencies?: string[]): PaymentMethod {
  return {
    id, displayName: { en: `Wallet ${id}`, ru: `Кошелёк ${id}` }, supports: {}, currencies,
    async prepare() {
      return { methodData: {}, payload: null };
    },
    async start() {
      return { kind: 'requires_action', nextAction: next as never };
    },
  };
}

test('other methods appear as buttons; a form next action auto-submits, a redirect is a 303', async (t) => {
  const wallets = definePlugin({
    name: 'test-wallets', version: '1.0.0', core: '^1.0.0',
    register(ctx) {
      ctx.provide(TOKENS.PaymentMethod, { useValue: walletMethod('formwallet', { type: 'form', url: 'https://wallet.example/pay', method: 'POST', fields: { invoice: 'inv-1', note: 'a"b<c' } }) });
      ctx.provide(TOKENS.PaymentMethod, { useValue: walletMethod('redirwallet', { type: 'redirect', url: 'https://wallet2.example/go?x=1' }) });
      ctx.provide(TOKENS.PaymentMethod, { useValue: walletMethod('usdwallet', { type: 'redirect', url: 'https://x.example' }, ['USD']) });
      ctx.provide(TOKENS.PaymentMethod, { useValue: { ...walletMethod('slowwallet', {}), start: async () => ({ kind: 'pending' as const }) } });
    },
  });
  const h = await createTestHub({ plugins: PLUGINS, inlinePlugins: [wallets as never] });
  t.teardown(() => h.close());
  const mm = await h.createMerchant();
  const mk = async (n: string) => (await h.api('POST', '/v1/orders', { key: mm.key, body: { order_number: n, amount: 1000, currency: 'RUB' } })).body.id as string;
  const o1 = await mk('w-1');
  const page = await h.api('GET', `/pay/${o1}?lang=ru`);
  t.regex(page.text, /<button type="submit" name="method" value="formwallet" class="method-btn">Кошелёк formwallet<\/button>/);
  t.regex(page.text, /value="redirwallet"/);
  t.false(page.text.includes('usdwallet'), 'a method without the order currency is not offered');
  t.regex(page.text, /id="card-form"/);
  const r = await h.api('POST', `/pay/${o1}`, { form: { csrf: csrfOf(page.text), method: 'formwallet', lang: 'ru' } });
  t.is(r.status, 200);
  t.regex(r.text, /<form id="next-form" method="POST" action="https:\/\/wallet\.example\/pay" data-autosubmit="1">/);
  t.true(r.text.includes('name="note" value="a&quot;b&lt;c"'));
  t.regex(r.text, /<button type="submit" class="pay-btn">Продолжить<\/button>/);
  t.regex(r.headers['content-security-policy']!, /form-action https:\/\/wallet\.example/);
  t.false(r.headers['content-security-policy']!.includes('unsafe-inline'));
  t.is((await h.payments.getOrder(o1))!.status, 'requires_action');
  const o2 = await mk('w-2');
  const p2 = await h.api('GET', `/pay/${o2}`);
  const r2 = await h.api('POST', `/pay/${o2}`, { form: { csrf: csrfOf(p2.text), method: 'redirwallet' } });
  t.is(r2.status, 303);
  t.is(r2.headers.location, 'https://wallet2.example/go?x=1');
  // Back on the page while the wallet is open: a way to continue.
  const again = await h.api('GET', `/pay/${o2}?lang=en`);
  t.regex(again.text, /href="https:\/\/wallet2\.example\/go\?x=1">Continue to confirmation/);
  // The provider has not answered: a processing page that refreshes itself.
  const o4 = await mk('w-4');
  const r4 = await h.api('POST', `/pay/${o4}`, { form: { csrf: csrfOf((await h.api('GET', `/pay/${o4}`)).text), method: 'slowwallet', lang: 'en' } });
  t.is(r4.status, 303);
  const pend = await h.api('GET', r4.headers.location!);
  t.regex(pend.text, /Processing your payment/);
  t.regex(pend.text, /data-autorefresh="3000"/);
  t.is(pend.headers['cache-control'], 'no-store');
  // A method disabled by the merchant disappears.
  t.is((await h.api('PUT', '/v1/payment-methods/formwallet/settings', { key: mm.key, body: { enabled: false } })).status, 200);
  const o3 = await mk('w-3');
  t.false((await h.api('GET', `/pay/${o3}`)).text.includes('value="formwallet"'));
});
