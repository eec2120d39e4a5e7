import anyTest, { type TestFn } from 'ava';
import crypto from 'node:crypto';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestHub } from '@payhub/core';
import { formatAmount } from '../src/index';
import { CHROMIUM_ARGS, Shop, startHub, YEAR } from './helpers';

/** Real payments in headless Chromium: approved, declined then approved, 3-D Secure, and without JavaScript. */
const test = anyTest as TestFn;

let hub: TestHub;
let browser: Browser;
let shop: Shop;
let m: Awaited<ReturnType<TestHub['createMerchant']>>;

test.before(async () => {
  [hub, browser] = await Promise.all([
    startHub(),
    chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS }),
  ]);
  shop = new Shop();
  await shop.start();
  m = await hub.createMerchant({ name: 'Browser shop' });
});
test.after.always(async () => {
  await browser?.close();
  await shop?.close();
  await hub?.close();
});

async function newOrder(amount = 250_000) {
  const r = await hub.api('POST', '/v1/orders', {
    key: m.key,
    body: { order_number: `b-${crypto.randomBytes(5).toString('hex')}`, amount, currency: 'RUB', description: 'Headphones', return_url: `${shop.url}/return` },
  });
  if (r.status !== 201) throw new Error(`order: ${r.status} ${r.text}`);
  return r.body as { id: string };
}

const activeId = (page: Page) => page.evaluate<string | undefined>('document.activeElement ? document.activeElement.id : undefined');

async function fillCard(page: Page, number: string): Promise<void> {
  await page.fill('#card_number', number);
  await page.fill('#card_exp', `12/${YEAR}`);
  await page.fill('#card_cvc', '123');
  await page.fill('#card_holder', 'ANNA IVANOVA');
}

test.serial('an approved card, keyboard only: the buyer lands on return_url with the order paid', async (t) => {
  const o = await newOrder();
  const ctx = await browser.newContext({ locale: 'en-US' });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${hub.url}/pay/${o.id}`);
  t.is(await page.textContent('#amount'), formatAmount(250_000, 'RUB', 'en'));
  t.regex(formatAmount(250_000, 'RUB', 'en'), /^RUB\s2,500\.00$/);
  // Keyboard only: Tab to the number field, type, Tab through the form, Enter to pay.
  for (let i = 0; i < 15 && (await activeId(page)) !== 'card_number'; i++) await page.keyboard.press('Tab');
  t.is(await activeId(page), 'card_number');
  await page.keyboard.type('4111111111111111');
  t.is(await page.inputValue('#card_number'), '4111 1111 1111 1111', 'formatted in groups');
  t.is(await page.getAttribute('#brand-icon', 'alt'), 'VISA');
  t.is(await page.getAttribute('#card_number', 'aria-invalid'), null);
  await page.keyboard.press('Tab');
  await page.keyboard.type(`12${YEAR}`);
  t.is(await page.inputValue('#card_exp'), `12/${YEAR}`);
  await page.keyboard.press('Tab');
  await page.keyboard.type('123');
  await page.keyboard.press('Tab');
  t.is(await activeId(page), 'card_holder');
  await page.keyboard.type('ANNA IVANOVA');
  await Promise.all([page.waitForURL(/\/pay\/ord_[^/]+\?lang=en$/), page.keyboard.press('Enter')]);
  t.is(await page.textContent('#result-heading'), 'Payment successful');
  await Promise.all([page.waitForURL(`${shop.url}/return?**`), page.click('#back-to-shop')]);
  const u = new URL(page.url());
  t.is(u.searchParams.get('order_id'), o.id);
  t.is(u.searchParams.get('status'), 'paid');
  t.is((await hub.payments.getOrder(o.id))!.status, 'paid');
});

test.serial('live Luhn check in the browser, then a declined card and an approved one on the same order', async (t) => {
  const o = await newOrder();
  const ctx = await browser.newContext({ locale: 'ru-RU' });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${hub.url}/pay/${o.id}`);
  t.is(await page.getAttribute('html', 'lang'), 'ru');
  await page.fill('#card_number', '4111111111111112');
  t.is(await page.getAttribute('#card_number', 'aria-invalid'), 'true');
  t.is(await page.textContent('#card_number-error'), 'Проверьте номер карты');
  // The browser refuses to submit an invalid number: no attempt is made.
  await page.fill('#card_exp', `12/${YEAR}`);
  await page.fill('#card_cvc', '123');
  await page.fill('#card_holder', 'ANNA IVANOVA');
  await page.click('#pay-btn');
  t.is(await activeId(page), 'card_number');
  t.is((await hub.db('payment_attempts').where({ order_id: o.id })).length, 0);

  await fillCard(page, '4000000000000002');
  await Promise.all([page.waitForURL(/\/pay\/ord_[^/]+\?lang=ru$/), page.click('#pay-btn')]);
  t.regex((await page.textContent('#announce'))!, /Банк отклонил платёж/);
  t.is(await page.inputValue('#card_number'), '', 'the number is not filled in again');
  t.is((await hub.payments.getOrder(o.id))!.status, 'created');

  await fillCard(page, '5555555555554444');
  t.is(await page.getAttribute('#brand-icon', 'alt'), 'MASTERCARD');
  await Promise.all([page.waitForURL(/\/pay\/ord_[^/]+\?lang=ru$/), page.click('#pay-btn')]);
  t.is(await page.textContent('#result-heading'), 'Оплата прошла успешно');
  const attempts = await hub.payments.listAttempts(o.id);
  t.deepEqual(attempts.map((a) => a.status).sort(), ['captured', 'declined']);
  t.is((await hub.payments.getOrder(o.id))!.status, 'paid');
  t.false(hub.logs.some((l) => l.includes('4000000000000002') || l.includes('5555555555554444')));
});

test.serial('3-D Secure: the challenge page at the bank, code 123456, back to the hub, paid', async (t) => {
  const o = await newOrder();
  const ctx = await browser.newContext({ locale: 'en-US' });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${hub.url}/pay/${o.id}?lang=en`);
  await fillCard(page, '4000000000003220');
  await Promise.all([page.waitForURL(/\/3ds\//), page.click('#pay-btn')]);
  t.not(new URL(page.url()).port, new URL(hub.url).port, 'on the bank emulator');
  t.false(page.url().includes('4000000000003220'));
  t.is((await hub.payments.getOrder(o.id))!.status, 'requires_action');
  await page.fill('#code', '123456');
  await Promise.all([page.waitForURL(/\/pay\/ord_/), page.click('button[type=submit], input[type=submit]')]);
  t.is(await page.textContent('#result-heading'), 'Payment successful');
  t.is((await hub.payments.getOrder(o.id))!.status, 'paid');
  const href = await page.getAttribute('#back-to-shop', 'href');
  t.regex(href!, /status=paid/);
});

test.serial('without JavaScript the card form posts and the result page shows the payment', async (t) => {
  const o = await newOrder(99_900);
  const ctx = await browser.newContext({ javaScriptEnabled: false, locale: 'de-DE' });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${hub.url}/pay/${o.id}`);
  t.is(await page.getAttribute('html', 'lang'), 'de');
  t.is(await page.textContent('#amount'), formatAmount(99_900, 'RUB', 'de'));
  await fillCard(page, '4111 1111 1111 1111');
  await Promise.all([page.waitForURL(/\/pay\/ord_[^/]+\?lang=de$/), page.click('#pay-btn')]);
  t.is(await page.textContent('#result-heading'), 'Zahlung erfolgreich');
  t.is((await hub.payments.getOrder(o.id))!.status, 'paid');
  const attempts = await hub.payments.listAttempts(o.id);
  t.is(attempts[0]!.methodData.masked, '411111******1111');
});
