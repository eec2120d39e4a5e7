import test from 'ava';
import crypto from 'node:crypto';
import path from 'node:path';
import type { TestHub } from '@payhub/core';
import { createTestHub } from '@payhub/core';
import { csrfOf, PLUGINS, YEAR } from './helpers';

/*
 * Checkout extensions (TOKENS.CheckoutExtension) on the hosted payment page, with the loyalty plugin: a buyer adds a
 * loyalty card to the order being paid and earns points once it is captured. Plain HTTP, no browser (no JavaScript).
 */

const LOYALTY = path.resolve(__dirname, '../../..', 'loyalty');

let hub: TestHub;
let m: Awaited<ReturnType<TestHub['createMerchant']>>;

test.before(async () => {
  hub = await createTestHub({ plugins: [...PLUGINS, { resolve: LOYALTY }] });
  m = await hub.createMerchant({ name: 'Books & Co' });
  const rules = await hub.api('PUT', '/v1/loyalty/rules', { key: m.key, body: { earn_bps: 500 } });
  if (rules.status !== 200) throw new Error(rules.text);
});
test.after.always(async () => {
  await hub?.close();
});

async function order(key = m.key, amount = 123456) {
  const r = await hub.api('POST', '/v1/orders', { key, body: { order_number: `x-${crypto.randomBytes(5).toString('hex')}`, amount, currency: 'RUB' } });
  if (r.status !== 201) throw new Error(`order: ${r.status} ${r.text}`);
  return r.body as { id: string };
}

async function newCard(key = m.key) {
  const r = await hub.api('POST', '/v1/loyalty/cards', { key, body: { holder: { name: 'Anna K' } } });
  if (r.status !== 201) throw new Error(r.text);
  return r.body as { number: string };
}

async function balance(number: string): Promise<number> {
  const r = await hub.api('GET', `/v1/loyalty/cards/${number}`, { key: m.key });
  if (r.status !== 200) throw new Error(r.text);
  return r.body.balance;
}

async function settle() {
  const r = await hub.api('POST', '/v1/loyalty/run', { headers: { authorization: `Bearer ${hub.config.adminToken}` } });
  if (r.status !== 200) throw new Error(r.text);
}

/** A Luhn-valid number in the loyalty range that no card has. */
function unknownNumber(): string {
  const luhn = (s: string) => {
    let sum = 0;
    for (let i = 0; i < s.length; i++) {
      let d = s.charCodeAt(s.length - 1 - i) - 48;
      if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
      sum += d;
    }
    return sum % 10 === 0;
  };
  const body = '9643' + String(crypto.randomInt(0, 1e11)).padStart(11, '0');
  for (let d = 0; d <= 9; d++) if (luhn(body + d)) return body + d;
  throw new Error('unreachable');
}

const rows = (orderId: string) => hub.db('loyalty_orders').where({ order_id: orderId });
const spaced = (n: string) => n.replace(/(\d{4})(?=\d)/g, '$1 ');

test('the loyalty section on the pay page: add a card with the CSRF token, pay, points are credited after capture', async (t) => {
  const o = await order();
  const card = await newCard();
  const page = await hub.api('GET', `/pay/${o.id}?lang=en`);
  t.is(page.status, 200);
  t.regex(page.text, /<section class="ext-section" id="ext-loyalty"[^>]*data-extension="loyalty">/);
  t.regex(page.text, /<h2 id="ext-loyalty-heading">Loyalty card<\/h2>/);
  t.regex(page.text, new RegExp(`<form method="post" action="/pay/${o.id}/extensions/loyalty" class="ext-form">`));
  t.regex(page.text, /<label for="ext-loyalty-card_number">Loyalty card number<\/label>/);
  t.regex(page.text, /id="ext-loyalty-card_number" name="card_number" type="text" inputmode="numeric"/);
  // CSP unchanged: no inline script, style or handler.
  t.false(/<script>|<script [^>]*>[^<]+<\/script>|\sstyle="|\son[a-z]+="/i.test(page.text));
  t.false(page.headers['content-security-policy']!.includes('unsafe-inline'));
  const csrf = csrfOf(page.text);
  // The same token as the card form; none or another → refused, nothing attached.
  const noCsrf = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf: 'f'.repeat(64), lang: 'en', card_number: card.number } });
  t.is(noCsrf.status, 403);
  t.is((await rows(o.id)).length, 0);

  const ok = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'en', card_number: spaced(card.number) } });
  t.is(ok.status, 200, ok.text);
  // floor(123456 × 5 %) = 6172; the number is shown masked only.
  t.regex(ok.text, new RegExp(`<p class="ext-message" role="status">Loyalty card •••• ${card.number.slice(-4)} added: 6172 points once the order is paid.</p>`));
  t.false(ok.text.includes(card.number));
  t.false(ok.text.includes(spaced(card.number)));
  t.regex(ok.text, /id="card-form"/, 'the card form is still there');
  t.is((await rows(o.id)).length, 1);
  // Twice: the same answer, one row.
  const again = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'en', card_number: card.number } });
  t.is(again.status, 200);
  t.regex(again.text, /added: 6172 points/);
  t.is((await rows(o.id)).length, 1);
  // Another card for this order is refused next to the field.
  const other = await newCard();
  const refused = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'en', card_number: other.number } });
  t.is(refused.status, 422);
  t.regex(refused.text, /id="ext-loyalty-card_number-error">Another loyalty card is already added to this order</);
  t.is(((await rows(o.id))[0] as { card_number: string }).card_number, card.number);

  // Pay with the card form (no JavaScript): 303 to the paid page.
  const pay = await hub.api('POST', `/pay/${o.id}`, { form: { csrf, lang: 'en', method: 'card', card_number: '4111 1111 1111 1111', card_exp: `12/${YEAR}`, card_cvc: '123', card_holder: 'IVAN PETROV' } });
  t.is(pay.status, 303, pay.text);
  t.is((await hub.payments.getOrder(o.id))!.status, 'paid');
  t.is(await balance(card.number), 0, 'nothing before the settling pass');
  await settle();
  t.is(await balance(card.number), 6172);
  await settle();
  t.is(await balance(card.number), 6172, 'credited once');
  t.is(await balance(other.number), 0);
  // A refund reverses in proportion, as for the plugin's own orders.
  const refund = await hub.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 61728 } });
  t.is(refund.status, 201, refund.text);
  await settle();
  t.is(await balance(card.number), 6172 - 3086);

  // Paid: the page shows the status, without the section; a late post goes back to the page.
  const after = await hub.api('GET', `/pay/${o.id}?lang=en`);
  t.false(after.text.includes('data-extension="loyalty"'));
  const late = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'en', card_number: card.number } });
  t.is(late.status, 303);
  t.is(late.headers.location, `/pay/${o.id}?lang=en`);
});

test('an invalid or unknown card: a field error on the page (422), nothing attached, the number never echoed', async (t) => {
  const o = await order();
  const csrf = csrfOf((await hub.api('GET', `/pay/${o.id}`)).text);
  const bad = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'en', card_number: '9643 0000 0000 0001' } });
  t.is(bad.status, 422);
  t.regex(bad.text, /<div class="field invalid">\s*<label for="ext-loyalty-card_number">/);
  t.regex(bad.text, /id="ext-loyalty-card_number"[^>]*aria-invalid="true"/);
  t.regex(bad.text, /id="ext-loyalty-card_number-error">Check the loyalty card number</);
  t.false(bad.text.includes('9643 0000 0000 0001'));
  t.false(bad.text.includes('9643000000000001'));
  const num = unknownNumber();
  const unknown = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'ru', card_number: num } });
  t.is(unknown.status, 422);
  t.regex(unknown.text, new RegExp(`id="ext-loyalty-card_number-error">Карта лояльности •••• ${num.slice(-4)} не найдена в этом магазине<`));
  t.false(unknown.text.includes(num));
  // A card of another merchant is unknown here.
  const m2 = await hub.createMerchant();
  await hub.api('PUT', '/v1/loyalty/rules', { key: m2.key, body: { earn_bps: 100 } });
  const foreign = await newCard(m2.key);
  const f = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'en', card_number: foreign.number } });
  t.is(f.status, 422);
  t.is((await rows(o.id)).length, 0);
  t.false(hub.logs.some((l) => l.includes(num) || l.includes(foreign.number)));
  // Markup from the input is never rendered.
  const xss = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'en', card_number: '<b>1</b>' } });
  t.is(xss.status, 422);
  t.false(xss.text.includes('<b>1</b>'));
  // An unknown extension → 404.
  t.is((await hub.api('POST', `/pay/${o.id}/extensions/nope`, { form: { csrf, card_number: '1' } })).status, 404);
});

test('not offered to a merchant without loyalty rules', async (t) => {
  const m3 = await hub.createMerchant();
  const o = await order(m3.key);
  const page = await hub.api('GET', `/pay/${o.id}`);
  t.is(page.status, 200);
  t.false(page.text.includes('data-extension="loyalty"'));
  const r = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf: csrfOf(page.text), card_number: unknownNumber() } });
  t.is(r.status, 303);
  t.is((await rows(o.id)).length, 0);
});

test('extension posts are rate-limited per order like payment attempts, on a budget of their own', async (t) => {
  const o = await order();
  const csrf = csrfOf((await hub.api('GET', `/pay/${o.id}`)).text);
  for (let i = 0; i < 10; i++) {
    const r = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'en', card_number: unknownNumber() } });
    t.is(r.status, 422);
  }
  const limited = await hub.api('POST', `/pay/${o.id}/extensions/loyalty`, { form: { csrf, lang: 'en', card_number: unknownNumber() } });
  t.is(limited.status, 429);
  t.truthy(limited.headers['retry-after']);
  // The payment itself is still possible.
  const pay = await hub.api('POST', `/pay/${o.id}`, { form: { csrf, lang: 'en', method: 'card', card_number: '4111 1111 1111 1111', card_exp: `12/${YEAR}`, card_cvc: '123', card_holder: 'IVAN PETROV' } });
  t.is(pay.status, 303);
});
