import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { APPLICATION, CARD_OK, PageClient, operatorPassword, startEnv } from './helpers';

test('operator account on first start: one-time password never in a log line, file mode 600, must change at first sign-in', async (t) => {
  const env = await startEnv();
  t.teardown(() => env.close());
  const { hub, dataDir } = env;
  const file = path.join(dataDir, 'operator-password');
  t.is(fs.statSync(file).mode & 0o777, 0o600);
  const op = operatorPassword(dataDir);
  t.is(op.email, 'operator@localhost');
  t.is(hub.logs.filter((l) => l.includes(op.password)).length, 0);
  t.true(hub.logs.some((l) => l.includes('dashboard operator account created')));

  const c = new PageClient(hub.url);
  const r = await c.login(op.email, op.password);
  t.is(r.status, 302);
  t.is(r.location, '/dashboard/password');
  const sid = (r.headers.getSetCookie().find((x) => x.startsWith('payhub_sid=')) ?? '');
  t.regex(sid, /HttpOnly/);
  t.regex(sid, /SameSite=Lax/);
  t.is((await c.get('/dashboard/operator')).location, '/dashboard/password');
  t.is((await c.get('/dashboard/password')).status, 200);
  const short = await c.post('/dashboard/password', { current: op.password, password: 'short', password2: 'short' });
  t.is(short.status, 422);
  const changed = await c.post('/dashboard/password', { current: op.password, password: 'a-new-operator-pass', password2: 'a-new-operator-pass' });
  t.is(changed.status, 302);
  const page = await c.get('/dashboard/operator');
  t.is(page.status, 200);
  t.true(page.text.includes('Merchants and applications'));
  // The one-time password no longer works.
  const again = new PageClient(hub.url);
  t.is((await again.login(op.email, op.password)).status, 401);
});

test('CSRF token required on every POST; login rate limit per e-mail; logout everywhere', async (t) => {
  const env = await startEnv({ loginMaxFailures: 3 });
  t.teardown(() => env.close());
  const { hub } = env;
  const c = new PageClient(hub.url);
  await c.get('/dashboard/signup');
  const signup = await c.post('/dashboard/signup', {
    shop_name: 'Tea', site_url: 'https://tea.example', contact_email: 'tea@tea.example', legal_name: 'OOO Tea', tax_id: '7709876543',
    legal_address: 'Kazan', password: 'tea-password-1', password2: 'tea-password-1',
  });
  t.is(signup.status, 201, signup.text);
  t.regex(signup.text, /sk_test_[A-Za-z0-9]+/);

  await c.get('/dashboard/login');
  const noToken = await c.req('POST', '/dashboard/login', undefined);
  t.is(noToken.status, 403);
  c.csrf = 'forged';
  t.is((await c.post('/dashboard/login', { email: 'tea@tea.example', password: 'tea-password-1' })).status, 403);

  for (let i = 0; i < 3; i++) t.is((await c.login('tea@tea.example', 'wrong-password')).status, 401);
  const limited = await c.login('tea@tea.example', 'tea-password-1');
  t.is(limited.status, 429);
  hub.clock.advance(16 * 60_000);
  const ok = await c.login('tea@tea.example', 'tea-password-1');
  t.is(ok.status, 302);
  t.is((await c.get('/dashboard/overview')).status, 200);
  // A second device, then logout everywhere from the first.
  const d = new PageClient(hub.url);
  t.is((await d.login('tea@tea.example', 'tea-password-1')).status, 302);
  t.is((await d.get('/dashboard/transactions')).status, 200);
  await c.get('/dashboard/password');
  t.is((await c.post('/dashboard/logout-all')).status, 302);
  t.is((await d.get('/dashboard/transactions')).status, 302);
  t.is((await c.get('/dashboard/transactions')).status, 302);
  const sessions = await hub.db('dashboard_sessions').whereNotNull('user_id').whereNull('revoked_at');
  t.is(sessions.length, 0);
});

test('transactions: filters, CSV, order detail with timeline, refund with confirmation; another merchant gets 404', async (t) => {
  const env = await startEnv();
  t.teardown(() => env.close());
  const { hub, smtp } = env;
  const a = (await hub.api('POST', '/v1/applications', { body: APPLICATION })).body;
  const b = (await hub.api('POST', '/v1/applications', { body: { ...APPLICATION, contact_email: 'other@other.example', shop_name: 'Other' } })).body;
  const pay = async (key: string, num: string, amount: number, card = CARD_OK) => {
    const o = await hub.api('POST', '/v1/orders', { key, body: { order_number: num, amount, currency: 'RUB' } });
    await hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key, body: card });
    return o.body.id as string;
  };
  const o1 = await pay(a.test_secret_key, 'A-100', 19900);
  await pay(a.test_secret_key, 'A-200', 5000, { ...CARD_OK, card: { ...CARD_OK.card, number: '5555555555554444' } });
  const ob = await pay(b.test_secret_key, 'B-100', 700);

  // The applicant sets a password through the link in the e-mail.
  const mail = await smtp.waitFor((m) => m.to.includes('owner@flowers.example') && m.subject.includes('test account'));
  const link = /(http:\/\/\S+\/dashboard\/password\/set\?token=[A-Za-z0-9_-]+)/.exec(mail.body)?.[1];
  t.truthy(link, mail.body);
  const c = new PageClient(hub.url);
  const u = new URL(link!);
  t.is((await c.get(u.pathname + u.search)).status, 200);
  t.is((await c.post('/dashboard/password/set', { token: u.searchParams.get('token')!, password: 'flowers-pass-1', password2: 'flowers-pass-1' })).status, 302);
  t.is((await c.post('/dashboard/password/set', { token: u.searchParams.get('token')!, password: 'flowers-pass-2', password2: 'flowers-pass-2' })).status, 400);
  t.is((await c.login('owner@flowers.example', 'flowers-pass-1')).status, 302);

  const all = await c.get('/dashboard/transactions');
  t.true(all.text.includes('A-100') && all.text.includes('A-200'));
  t.false(all.text.includes('B-100'));
  t.true(all.text.includes('data-mode="test"'));
  const by4 = await c.get('/dashboard/transactions?last4=4444');
  t.true(by4.text.includes('A-200'));
  t.false(by4.text.includes('A-100'));
  const byAmount = await c.get('/dashboard/transactions?amount_min=100&amount_max=199.00');
  t.true(byAmount.text.includes('A-100'));
  t.false(byAmount.text.includes('A-200'));
  const byNum = await c.get('/dashboard/transactions?order_number=A-2&status=paid&method=card');
  t.true(byNum.text.includes('A-200'));
  t.false(byNum.text.includes('A-100'));
  t.false(all.text.includes('4111111111111111'));
  const csv = await c.get('/dashboard/transactions.csv?status=paid');
  t.is(csv.status, 200);
  t.regex(csv.headers.get('content-type') ?? '', /text\/csv/);
  t.true(csv.text.includes('A-100,') && csv.text.includes('199.00'));
  t.true(csv.text.includes('411111******1111'));

  const detail = await c.get(`/dashboard/orders/${o1}`);
  t.is(detail.status, 200);
  t.regex(detail.text, /<td>created<\/td>|processing|paid/);
  t.true(detail.text.includes('>paid<'));
  const confirm = await c.post(`/dashboard/orders/${o1}/action`, { action: 'refund', amount: '50.00' });
  t.is(confirm.status, 200);
  t.true(confirm.text.includes('Refund 50.00 RUB of order A-100?'));
  t.is((await hub.db('refunds').where({ order_id: o1 })).length, 0);
  const done = await c.post(`/dashboard/orders/${o1}/action`, { action: 'refund', amount: '50.00', confirm: '1' });
  t.is(done.status, 302);
  const order = await hub.db('orders').where({ id: o1 }).first();
  t.is(Number(order.amount_refunded), 5000);
  t.is(order.status, 'partially_refunded');

  // URL tampering: another merchant's order is not found.
  t.is((await c.get(`/dashboard/orders/${ob}`)).status, 404);
  t.is((await c.post(`/dashboard/orders/${ob}/action`, { action: 'refund', amount: '1.00', confirm: '1' })).status, 404);
  t.is((await c.get('/dashboard/operator')).status, 404);

  // A read-only member sees but cannot act.
  await c.get('/dashboard/team');
  t.is((await c.post('/dashboard/team/add', { email: 'viewer@flowers.example', role: 'readonly' })).status, 302);
  const invite = await smtp.waitFor((m) => m.to.includes('viewer@flowers.example'));
  const token = /token=([A-Za-z0-9_-]+)/.exec(invite.body)![1]!;
  const v = new PageClient(hub.url);
  await v.get(`/dashboard/password/set?token=${token}`);
  await v.post('/dashboard/password/set', { token, password: 'viewer-pass-1', password2: 'viewer-pass-1' });
  t.is((await v.login('viewer@flowers.example', 'viewer-pass-1')).status, 302);
  const vd = await v.get(`/dashboard/orders/${o1}`);
  t.is(vd.status, 200);
  t.false(vd.text.includes('name="action" value="refund"'));
  t.is((await v.post(`/dashboard/orders/${o1}/action`, { action: 'refund', amount: '1.00', confirm: '1' })).status, 403);
});
