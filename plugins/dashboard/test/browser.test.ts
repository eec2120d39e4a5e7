import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { chromium } from 'playwright-core';
import { CARD_OK, ROOT, TERMINAL_SECRET, operatorPassword, startEnv } from './helpers';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');

test('browser: apply, e-mail, sign in, pay, timeline, partial refund, request production, operator approves; no cross-merchant access', async (t) => {
  const env = await startEnv();
  t.teardown(() => env.close());
  const { hub, smtp } = env;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run'],
  });
  t.teardown(() => browser.close());
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const page = await ctx.newPage();
  const shot = async (name: string) => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}-360.png`), fullPage: true });
    const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth') as number;
    const wide = await page.evaluate(`[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement && e.parentElement.closest('.table-wrap'))).slice(0, 5).map((e) => e.tagName + '.' + e.className + '#' + e.id).join(' ')`);
    t.true(overflow <= 1, `${name} overflows at 360 px by ${overflow}px: ${wide}`);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: path.join(ARTIFACTS, `dashboard-${name}-1280.png`), fullPage: true });
  };

  // Apply.
  await page.goto(`${hub.url}/dashboard/signup`);
  await shot('signup');
  await page.getByLabel('Shop name').fill('Browser shop');
  await page.getByLabel('Site address').fill('https://browser.example');
  await page.getByLabel('Contact e-mail').fill('owner@browser.example');
  await page.getByLabel('Legal name').fill('OOO Browser');
  await page.getByLabel('Tax id (INN)').fill('7705554443');
  await page.getByLabel('Legal address').fill('Moscow');
  await page.getByLabel('New password (at least 10 characters)').fill('browser-pass-1');
  await page.getByLabel('Repeat the password').fill('browser-pass-1');
  await page.getByRole('button', { name: 'Apply' }).click();
  const key = (await page.locator('#test-key').textContent())!.trim();
  t.regex(key, /^sk_test_/);

  // The e-mail with the next steps.
  const mail = await smtp.waitFor((m) => m.to.includes('owner@browser.example'));
  t.regex(mail.subject, /test account for Browser shop/);
  t.true(mail.body.includes(`${hub.url.replace('127.0.0.1', 'localhost').replace(/:\d+$/, '')}`) || mail.body.includes('/dashboard/login'));
  t.true(mail.body.includes(key.slice(-4)));

  // Sign in.
  await page.getByRole('link', { name: 'Go to the dashboard' }).click();
  await page.getByLabel('E-mail').fill('owner@browser.example');
  await page.getByLabel('Password').fill('browser-pass-1');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL('**/dashboard/overview');
  t.is(await page.locator('header .badge').getAttribute('data-mode'), 'test');

  // Pay a test order through the API with the key from the page.
  const o = await hub.api('POST', '/v1/orders', { key, body: { order_number: 'WEB-1', amount: 19900, currency: 'RUB' } });
  const p = await hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key, body: CARD_OK });
  t.is(p.body.status, 'captured');

  await page.getByRole('link', { name: 'Transactions' }).click();
  await page.getByRole('link', { name: 'WEB-1' }).click();
  t.is((await page.locator('#order-status').textContent())!.trim(), 'paid');
  const timeline = await page.locator('#timeline').textContent();
  t.true(timeline!.includes('paid'));
  await shot('order');

  // Refund part of it, with confirmation.
  await page.getByLabel('Amount (RUB)').fill('50.00');
  await page.getByRole('button', { name: 'Refund' }).click();
  t.true((await page.locator('#confirm-text').textContent())!.includes('50.00 RUB'));
  await page.getByRole('button', { name: 'Confirm' }).click();
  t.is((await page.locator('#order-refunded').textContent())!.trim(), '50.00 RUB');
  t.is((await page.locator('#order-status').textContent())!.trim(), 'partially_refunded');

  // URL tampering: another merchant's order.
  const other = await hub.createMerchant({ name: 'Someone else' });
  const oo = await hub.api('POST', '/v1/orders', { key: other.key, body: { order_number: 'X-1', amount: 100, currency: 'RUB' } });
  const tampered = await page.goto(`${hub.url}/dashboard/orders/${oo.body.id}`);
  t.is(tampered!.status(), 404);

  // Onboarding: register, choose the bank, request production.
  await page.goto(`${hub.url}/dashboard/onboarding`);
  await page.getByRole('button', { name: 'Complete registration' }).click();
  await page.getByLabel('BIC').first().fill('044525225');
  await page.getByRole('button', { name: 'Choose this bank' }).first().click();
  await page.getByRole('button', { name: 'Request production' }).click();
  t.is(await page.locator('#onboarding-status').getAttribute('data-status'), 'production_requested');
  await shot('onboarding');
  await smtp.waitFor((m) => m.to.includes('owner@browser.example') && m.subject.includes('needs from'));

  // The operator signs in, changes the one-time password and approves.
  const op = operatorPassword(env.dataDir);
  const octx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  const opage = await octx.newPage();
  await opage.goto(`${hub.url}/dashboard/login`);
  await opage.getByLabel('E-mail').fill(op.email);
  await opage.getByLabel('Password').fill(op.password);
  await opage.getByRole('button', { name: 'Sign in' }).click();
  await opage.waitForURL('**/dashboard/password');
  await opage.getByLabel('Current password').fill(op.password);
  await opage.getByLabel('New password (at least 10 characters)').fill('operator-pass-1');
  await opage.getByLabel('Repeat the password').fill('operator-pass-1');
  await opage.getByRole('button', { name: 'Save' }).click();
  await opage.goto(`${hub.url}/dashboard/operator`);
  await opage.getByRole('link', { name: 'Browser shop' }).click();
  await opage.getByLabel('Merchant id at the bank').fill('bank-merchant-7');
  await opage.getByLabel('Terminal id').fill('sandbox-terminal');
  await opage.getByLabel('Terminal secret (request signing key)').fill(TERMINAL_SECRET);
  await opage.getByRole('button', { name: 'Record the contract' }).click();
  await opage.getByRole('button', { name: 'Check the connection' }).click();
  t.regex((await opage.locator('#check-status').textContent())!, /^ok/);
  await opage.getByLabel('I confirm the switch to production').check();
  await opage.getByRole('button', { name: 'Switch to production' }).click();
  const live = (await opage.locator('#secret').textContent())!.trim();
  t.regex(live, /^sk_live_/);
  const ok = await hub.api('GET', '/v1/balance', { key: live });
  t.is(ok.status, 200);
  await smtp.waitFor((m) => m.to.includes('owner@browser.example') && m.subject.includes('is live'));

  // The merchant now sees the production badge.
  await page.goto(`${hub.url}/dashboard/overview`);
  t.is(await page.locator('header .badge').getAttribute('data-mode'), 'live');
  await shot('overview');
  await page.goto(`${hub.url}/dashboard/transactions?lang=ru`);
  t.true((await page.locator('h1').textContent())!.includes('Операции'));
  await shot('transactions');
  await opage.goto(`${hub.url}/dashboard/operator/plugins`);
  t.true((await opage.locator('#plugins').textContent())!.includes('@payhub/plugin-dashboard'));
  await octx.close();
});
