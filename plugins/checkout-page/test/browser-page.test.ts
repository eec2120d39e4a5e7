import anyTest, { type TestFn } from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestHub } from '@payhub/core';
import { signSnippet, type SnippetFields } from '../src/index';
import { ARTIFACTS, CHROMIUM_ARGS, ROOT, Shop, startHub } from './helpers';

/** The static-page snippet, a custom theme at 360 px and 1280 px, and an axe-core accessibility check. */
const test = anyTest as TestFn;

let hub: TestHub;
let browser: Browser;
let shop: Shop;

test.before(async () => {
  [hub, browser] = await Promise.all([
    startHub(),
    chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS }),
  ]);
  shop = new Shop();
  await shop.start();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});
test.after.always(async () => {
  await browser?.close();
  await shop?.close();
  await hub?.close();
});

function esc(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

function staticPage(f: SnippetFields, signature: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Static shop</title></head><body>
<h1>Tea, 2 packs</h1>
<script src="${hub.url}/payhub.js" data-merchant="${esc(f.merchant_id)}" data-order="${esc(f.order_number)}" data-amount="${esc(f.amount)}"
  data-currency="${esc(f.currency)}" data-description="${esc(f.description)}" data-return-url="${esc(f.return_url)}" data-signature="${signature}"></script>
</body></html>`;
}

test.serial('the snippet on a static page: a valid signature opens the pay page, a tampered amount is refused', async (t) => {
  const m = await hub.createMerchant({ name: 'Static tea shop' });
  const f: SnippetFields = {
    merchant_id: m.id, order_number: `tea-${crypto.randomBytes(4).toString('hex')}`, amount: '45000', currency: 'RUB',
    description: 'Tea, 2 packs', return_url: `${shop.url}/return`,
  };
  const sig = signSnippet(m.formKey, f);
  shop.pages.set('/good.html', staticPage(f, sig));
  const bad = { ...f, order_number: `${f.order_number}-x`, amount: '100' };
  shop.pages.set('/tampered.html', staticPage(bad, signSnippet(m.formKey, { ...bad, amount: '45000' })));

  const ctx = await browser.newContext({ locale: 'en-US' });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${shop.url}/good.html`);
  await Promise.all([page.waitForURL(/\/pay\/ord_/), page.click('.payhub-button')]);
  const id = /\/pay\/(ord_[0-9A-Za-z]+)/.exec(page.url())![1]!;
  const o = (await hub.payments.getOrder(id))!;
  t.is(o.amount, 45000);
  t.is(o.orderNumber, f.order_number);
  t.regex((await page.textContent('#amount'))!, /450\.00/);

  await page.goto(`${shop.url}/tampered.html`);
  const [resp] = await Promise.all([page.waitForResponse((r) => r.url() === `${hub.url}/pay`), page.click('.payhub-button')]);
  t.is(resp.status(), 403);
  await page.waitForSelector('#message-heading');
  t.is(await page.textContent('#message-heading'), 'The payment form signature is wrong');
  t.is((await hub.db('orders').where({ order_number: bad.order_number })).length, 0);
});

async function overflowAndTargets(page: Page): Promise<{ scrollWidth: number; small: string[] }> {
  return page.evaluate<{ scrollWidth: number; small: string[] }>(`(() => {
    const small = [];
    for (const el of document.querySelectorAll('a, button, input:not([type=hidden])')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      if (r.height < 44 || r.width < 44) small.push((el.id || el.tagName) + ' ' + Math.round(r.width) + 'x' + Math.round(r.height));
    }
    return { scrollWidth: document.documentElement.scrollWidth, small };
  })()`);
}

test.serial('a custom theme is applied; 360 px without horizontal scrolling, 44 px tap targets; screenshots', async (t) => {
  const m = await hub.createMerchant({ name: 'Зелёная лавка — очень длинное название магазина для проверки переноса' });
  const put = await hub.api('PUT', '/v1/checkout-theme', {
    key: m.key, body: { colors: { primary: '#0a7d33', background: '#eef6f0', text: '#102a17' }, radius: 14, font_stack: 'Georgia, serif', custom_css: '.shop-name { font-style: italic; }' },
  });
  t.is(put.status, 200);
  const r = await hub.api('POST', '/v1/orders', {
    key: m.key, body: { order_number: 'theme-1', amount: 1_234_500, currency: 'RUB', description: 'Очень-длинное-описание-заказа-без-пробелов-которое-не-должно-растягивать-страницу-по-ширине', return_url: `${shop.url}/return` },
  });
  const ctx = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'ru-RU', isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${hub.url}/pay/${r.body.id}`);
  const style = (sel: string, prop: string) => page.evaluate<string>(`getComputedStyle(document.querySelector(${JSON.stringify(sel)}))[${JSON.stringify(prop)}]`);
  const bg = await style('#pay-btn', 'backgroundColor');
  t.is(bg, 'rgb(10, 125, 51)');
  t.is(await style('#pay-btn', 'borderTopLeftRadius'), '14px');
  t.is(await style('.shop-name', 'fontStyle'), 'italic');
  const narrow = await overflowAndTargets(page);
  t.true(narrow.scrollWidth <= 360, `scrollWidth ${narrow.scrollWidth}`);
  t.deepEqual(narrow.small, []);
  for (const id of ['card_number', 'card_exp', 'card_cvc']) t.is(await page.getAttribute(`#${id}`, 'inputmode'), 'numeric');
  await page.screenshot({ path: path.join(ARTIFACTS, 'checkout-360.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'checkout-1280.png'), fullPage: true });
  const wide = await overflowAndTargets(page);
  t.true(wide.scrollWidth <= 1280);
  t.true(fs.statSync(path.join(ARTIFACTS, 'checkout-360.png')).size > 1000);
  t.true(fs.statSync(path.join(ARTIFACTS, 'checkout-1280.png')).size > 1000);
});

interface AxeResult { violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> }

async function axe(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js') });
  const r = await page.evaluate<AxeResult>('axe.run(document, { resultTypes: ["violations"] })');
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

test.serial('axe-core finds no serious or critical violations on the form (with errors), the result and the not-found page', async (t) => {
  const m = await hub.createMerchant({ name: 'Axe shop' });
  const r = await hub.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'axe-1', amount: 5000, currency: 'EUR', return_url: `${shop.url}/return` } });
  // axe is injected as a script: this context alone bypasses the page's CSP.
  const ctx = await browser.newContext({ bypassCSP: true, locale: 'en-US' });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  await page.goto(`${hub.url}/pay/${r.body.id}`);
  t.deepEqual(await axe(page), []);
  // Field errors shown by the browser.
  await page.fill('#card_number', '4111111111111112');
  await page.click('#pay-btn');
  t.is(await page.getAttribute('#card_exp', 'aria-invalid'), 'true');
  t.deepEqual(await axe(page), []);
  await page.fill('#card_number', '4111111111111111');
  await page.fill('#card_exp', '12/40');
  await page.fill('#card_cvc', '123');
  await page.fill('#card_holder', 'A B');
  await Promise.all([page.waitForURL(/\/pay\/ord_[^/]+\?lang=en$/), page.click('#pay-btn')]);
  t.deepEqual(await axe(page), []);
  await page.goto(`${hub.url}/pay/ord_nosuchorder000`);
  t.deepEqual(await axe(page), []);
});
