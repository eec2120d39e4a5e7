/**
 * End to end over a real hub (SQLite or PostgreSQL), the sandbox bank emulator and real TLS.
 */
import test from 'ava';
import crypto from 'node:crypto';
import https from 'node:https';
import { createTestHub, TOKENS, type BankAdapter, type TestHub } from '@payhub/core';
import { createCa } from '../src/pki';
import { craftCertificate, csrFor, hasOpenssl, openssl, rsaKey, type TestKey } from './helpers';

let hub: TestHub;
let merchant: { id: string; key: string };
let ca: { certPem: string; keyPem: string };
let caKey: TestKey;
let providerId: string;
let bankUrl: string;
let seq = 0;

test.before(async () => {
  ca = createCa({ commonName: 'Flow Test Accounts CA', keyBits: 3072, now: new Date(), lifetimeDays: 3650 });
  caKey = { privateKeyPem: ca.keyPem, publicKeyPem: '' };
  hub = await createTestHub({
    plugins: [
      { resolve: './plugins/sandbox-bank', options: { latencyMs: 5 } },
      { resolve: './plugins/personal-account', options: { mtlsPort: 0, mtlsHost: '127.0.0.1', caCertPem: ca.certPem, caKeyPem: ca.keyPem } },
    ],
  });
  merchant = await hub.createMerchant({ currencies: ['RUB', 'USD'] });
  const adapter = hub.container.resolveAll<BankAdapter>(TOKENS.BankAdapter).find((a) => a.id === 'sandbox-bank') as BankAdapter & { emulatorUrl(): string };
  bankUrl = adapter.emulatorUrl();
  const p = await admin('POST', '/v1/admin/account-providers', { name: 'Sandbox accounts', bank_adapter: 'sandbox-bank', currencies: ['RUB'] });
  if (p.status !== 201) throw new Error(`provider: ${p.text}`);
  providerId = p.body.id;
});
test.after.always(async () => {
  await hub?.close();
});

function admin(method: string, path: string, body?: unknown) {
  return hub.api(method, path, { key: hub.config.adminToken!, body });
}

async function bankAccount(balance: number, opts: { blocked?: boolean } = {}): Promise<string> {
  const number = `40817${Date.now()}${seq++}`;
  const r = await fetch(`${bankUrl}/accounts`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ accountNumber: number, balance, currency: 'RUB', blocked: opts.blocked ?? false }),
  });
  if (r.status !== 201) throw new Error(`bank account: ${r.status} ${await r.text()}`);
  return number;
}
async function bankBalance(number: string): Promise<number> {
  const r = await fetch(`${bankUrl}/accounts/${number}`);
  return ((await r.json()) as { balance: number }).balance;
}

async function account(balance = 1_000_000, opts: { blocked?: boolean } = {}): Promise<{ id: string; number: string }> {
  const number = await bankAccount(balance, opts);
  const r = await admin('POST', '/v1/accounts', { provider_id: providerId, holder: 'Ivan Petrov', external_account_number: number });
  if (r.status !== 201) throw new Error(`account: ${r.text}`);
  return { id: r.body.id, number };
}

async function issueCsr(accountId: string, key: TestKey, extra: Record<string, unknown> = {}) {
  const r = await admin('POST', `/v1/accounts/${accountId}/certificates`, { csr: csrFor(key), ...extra });
  if (r.status !== 201) throw new Error(`issue: ${r.text}`);
  return r.body as { serial: string; certificate: string };
}

async function order(amount = 10_000, currency = 'RUB', expiresIn?: number): Promise<string> {
  const r = await hub.api('POST', '/v1/orders', {
    key: merchant.key,
    body: { order_number: `o-${Date.now()}-${seq++}`, amount, currency, description: 'Books', ...(expiresIn ? { expires_in: expiresIn } : {}) },
  });
  if (r.status !== 201) throw new Error(`order: ${r.text}`);
  return r.body.id;
}
async function orderStatus(id: string): Promise<string> {
  return (await hub.api('GET', `/v1/orders/${id}`, { key: merchant.key })).body.status;
}
async function attemptsOf(orderId: string): Promise<number> {
  const r = await hub.db('payment_attempts').where({ order_id: orderId }).count<{ n: number | string }[]>({ n: '*' });
  return Number(r[0]!.n);
}

function signedBody(orderId: string, amount: number, certPem: string, key: TestKey, o: { nonce?: string; signedAt?: string; currency?: string } = {}) {
  const nonce = o.nonce ?? crypto.randomBytes(16).toString('hex');
  const signedAt = o.signedAt ?? hub.clock.now().toISOString();
  const data = `${orderId}\n${amount}\n${o.currency ?? 'RUB'}\n${nonce}\n${signedAt}`;
  const signature = crypto.sign('sha256', Buffer.from(data), key.privateKeyPem).toString('base64');
  return { method: 'personal_account', certificate: certPem, signature, signed_at: signedAt, nonce };
}
function pay(orderId: string, body: unknown) {
  return hub.api('POST', `/v1/orders/${orderId}/payments`, { key: merchant.key, body });
}

interface TlsAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: string }
function mtls(url: string, o: { method?: string; cert?: string; key?: string; pfx?: Buffer; passphrase?: string; form?: Record<string, string> }): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const body = o.form ? new URLSearchParams(o.form).toString() : undefined;
    const req = https.request(url, {
      method: o.method ?? 'GET', ca: ca.certPem, cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase,
      headers: body ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {},
      agent: false,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
async function payOverMtls(orderId: string, creds: { cert?: string; key?: string; pfx?: Buffer; passphrase?: string }): Promise<TlsAnswer> {
  const link = await hub.api('GET', `/v1/personal-account/link/${orderId}`);
  const pageRes = await mtls(link.body.url, creds);
  if (pageRes.status !== 200) return pageRes;
  const token = /name="confirm" value="([^"]+)"/.exec(pageRes.body)?.[1];
  if (!token) throw new Error('no confirm token on the page');
  return mtls(link.body.url, { ...creds, method: 'POST', form: { confirm: token } });
}

// ------------------------------------------------------------------------------------------------ serial (clock moves)

test.serial('an expired and a not-yet-valid certificate of ours are refused against the hub clock; nothing is written', async (t) => {
  const acc = await account();
  const key = rsaKey();
  const cert = await issueCsr(acc.id, key, { lifetime_days: 1 });
  const o1 = await order(10_000, 'RUB', 7 * 86_400);
  hub.clock.advance(2 * 86_400_000);
  try {
    const r = await pay(o1, signedBody(o1, 10_000, cert.certificate, key));
    t.is(r.status, 422);
    t.is(r.body.code, 'certificate_expired');
    t.is(await attemptsOf(o1), 0);
  } finally {
    hub.clock.set(new Date());
  }
  const o2 = await order();
  hub.clock.advance(-86_400_000);
  try {
    const r = await pay(o2, signedBody(o2, 10_000, cert.certificate, key));
    t.is(r.status, 422);
    t.is(r.body.code, 'certificate_not_yet_valid');
    t.is(await attemptsOf(o2), 0);
  } finally {
    hub.clock.set(new Date());
  }
  t.is(await orderStatus(o2), 'created');
});

// ------------------------------------------------------------------------------------------------ happy paths

test('issue from a CSR, pay over mutual TLS with a Node https client: order paid, account debited', async (t) => {
  const acc = await account(50_000);
  const key = rsaKey();
  const cert = await issueCsr(acc.id, key);
  t.regex(cert.serial, /^[0-9a-f]{32}$/);
  const list = await admin('GET', `/v1/accounts/${acc.id}/certificates`);
  t.is(list.body.data[0].serial, cert.serial);
  const o = await order(12_345);
  const res = await payOverMtls(o, { cert: cert.certificate, key: key.privateKeyPem });
  t.is(res.status, 303, res.body);
  t.regex(String(res.headers.location), new RegExp(`/pay-account/${o}/result$`));
  t.is(await orderStatus(o), 'paid');
  t.is(await bankBalance(acc.number), 50_000 - 12_345);
  const attempts = (await hub.api('GET', `/v1/orders/${o}`, { key: merchant.key })).body;
  t.truthy(JSON.stringify(attempts).includes(cert.serial));
  t.false(JSON.stringify(attempts).includes(acc.number));
});

test('without a client certificate the page asks for one; a forged confirm token is refused', async (t) => {
  const o = await order();
  const link = await hub.api('GET', `/v1/personal-account/link/${o}`);
  t.regex(link.body.url, /^https:\/\/127\.0\.0\.1:\d+\/pay-account\/ord_/);
  const r = await mtls(link.body.url, {});
  t.is(r.status, 401);
  const acc = await account();
  const key = rsaKey();
  const cert = await issueCsr(acc.id, key);
  const forged = await mtls(link.body.url, { cert: cert.certificate, key: key.privateKeyPem, method: 'POST', form: { confirm: `${Date.now()}.${'0'.repeat(64)}` } });
  t.is(forged.status, 403);
  t.is(await attemptsOf(o), 0);
  // A body cannot claim a TLS-presented certificate.
  const claim = await pay(o, { method: 'personal_account', mtls_token: 'x'.repeat(43) });
  t.is(claim.status, 422);
  t.is(await attemptsOf(o), 0);
});

test('the same payment with a signed request (RSA-SHA256 PKCS#1 v1.5 and PSS)', async (t) => {
  const acc = await account(100_000);
  const key = rsaKey();
  const cert = await issueCsr(acc.id, key);
  const o = await order(20_000);
  const r = await pay(o, signedBody(o, 20_000, cert.certificate, key));
  t.is(r.status, 201, r.text);
  t.is(r.body.status, 'captured');
  t.is(r.body.method, 'personal_account');
  t.is(await orderStatus(o), 'paid');
  t.is(await bankBalance(acc.number), 80_000);

  const o2 = await order(1_000);
  const nonce = crypto.randomBytes(16).toString('hex');
  const signedAt = hub.clock.now().toISOString();
  const sig = crypto.sign('sha256', Buffer.from(`${o2}\n1000\nRUB\n${nonce}\n${signedAt}`), {
    key: key.privateKeyPem, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
  }).toString('base64');
  const r2 = await pay(o2, { method: 'personal_account', certificate: cert.certificate, signature: sig, signed_at: signedAt, nonce, signature_alg: 'rsa-pss-sha256' });
  t.is(r2.status, 201, r2.text);
  t.is(r2.body.status, 'captured');
});

test('PKCS#12 issued by the hub pays over mutual TLS with its password; a wrong password fails cleanly', async (t) => {
  const acc = await account();
  const password = 'Correct-Horse-Battery-9';
  const r = await admin('POST', `/v1/accounts/${acc.id}/certificates`, { password });
  t.is(r.status, 201, r.text);
  t.is(r.body.issued_via, 'pkcs12');
  const pfx = Buffer.from(r.body.pkcs12, 'base64');
  const o = await order(5_000);
  await t.throwsAsync(() => mtls(`https://127.0.0.1:1/`, { pfx, passphrase: 'wrong password 123' }), { message: /mac verify|invalid password/i });
  const ok = await payOverMtls(o, { pfx, passphrase: password });
  t.is(ok.status, 303, ok.body);
  t.is(await orderStatus(o), 'paid');
  t.false(hub.logs.some((l) => l.includes(password)));
  const weak = await admin('POST', `/v1/accounts/${acc.id}/certificates`, { password: 'short' });
  t.is(weak.status, 422);
});

// ------------------------------------------------------------------------------------------------ refusals

test('certificate matrix: each refused with a clear error, no attempt written, balance untouched', async (t) => {
  const acc = await account(100_000);
  const key = rsaKey();
  const real = await issueCsr(acc.id, key);
  const other = createCa({ commonName: 'Flow Test Accounts CA', keyBits: 3072, now: new Date(), lifetimeDays: 10 });
  const leafIssuer = await issueCsr(acc.id, rsaKey(2048, 65537, 1));
  const day = 86_400_000;
  const ours = (o: Partial<Parameters<typeof craftCertificate>[0]>) => craftCertificate({ subjectKey: key, issuerCertPem: ca.certPem, issuerKey: caKey, subjectCn: acc.id, ...o });
  const cases: Array<[string, string, TestKey, string]> = [
    ['expired', ours({ notAfter: new Date(Date.now() - day), notBefore: new Date(Date.now() - 10 * day) }), key, 'certificate_expired'],
    ['not yet valid', ours({ notBefore: new Date(Date.now() + day) }), key, 'certificate_not_yet_valid'],
    ['issued by another CA', craftCertificate({ subjectKey: key, issuerCertPem: other.certPem, issuerKey: { privateKeyPem: other.keyPem, publicKeyPem: '' }, subjectCn: acc.id }), key, 'certificate_untrusted'],
    ['self-signed', craftCertificate({ subjectKey: key, issuerKey: key, subjectCn: acc.id }), key, 'certificate_untrusted'],
    ['signed by a leaf', craftCertificate({ subjectKey: key, issuerCertPem: leafIssuer.certificate, issuerKey: rsaKey(2048, 65537, 1), subjectCn: acc.id }), key, 'certificate_untrusted'],
    ['without clientAuth', ours({ clientAuth: false }), key, 'certificate_not_client'],
    ['RSA 1024', ours({ subjectKey: rsaKey(1024) }), rsaKey(1024), 'certificate_weak_key'],
    ['exponent 3', ours({ subjectKey: rsaKey(2048, 3) }), rsaKey(2048, 3), 'certificate_weak_key'],
    ['not issued through the API (serial unknown)', ours({}), key, 'certificate_unknown'],
    ['malformed DER', `-----BEGIN CERTIFICATE-----\n${crypto.randomBytes(600).toString('base64')}\n-----END CERTIFICATE-----\n`, key, 'certificate_malformed'],
  ];
  for (const [name, pem, signer, code] of cases) {
    const o = await order(10_000);
    const r = await pay(o, signedBody(o, 10_000, pem, signer));
    t.is(r.status, 422, `${name}: ${r.text}`);
    t.is(r.body.code, code, name);
    t.is(r.body.errors?.[0]?.field, 'certificate', name);
    t.is(await attemptsOf(o), 0, name);
    t.is(await orderStatus(o), 'created', name);
  }
  // The same over mutual TLS: a refused certificate gets a 403 page and no attempt.
  const o = await order();
  const tlsRes = await payOverMtls(o, { cert: ours({ clientAuth: false }), key: key.privateKeyPem });
  t.is(tlsRes.status, 403);
  t.regex(tlsRes.body, /certificate_not_client/);
  t.is(await attemptsOf(o), 0);
  t.is(await bankBalance(acc.number), 100_000);
  t.truthy(real.serial);
});

test('CSRs with RSA 1024 or exponent 3 are refused at issuance', async (t) => {
  const acc = await account();
  for (const key of [rsaKey(1024), rsaKey(2048, 3)]) {
    const r = await admin('POST', `/v1/accounts/${acc.id}/certificates`, { csr: csrFor(key) });
    t.is(r.status, 422);
    t.is(r.body.code, 'weak_key');
    t.is(r.body.errors[0].field, 'csr');
  }
  t.is((await admin('GET', `/v1/accounts/${acc.id}/certificates`)).body.data.length, 0);
});

test('revocation takes effect immediately (signed request and mutual TLS) and shows in the CRL', async (t) => {
  const acc = await account();
  const key = rsaKey();
  const cert = await issueCsr(acc.id, key);
  const o1 = await order(1_000);
  t.is((await pay(o1, signedBody(o1, 1_000, cert.certificate, key))).status, 201);
  const rev = await admin('DELETE', `/v1/accounts/${acc.id}/certificates/${cert.serial}?reason=key_compromise`);
  t.is(rev.status, 200, rev.text);
  t.is(rev.body.status, 'revoked');
  t.is(rev.body.revocation_reason, 'key_compromise');
  const o2 = await order(1_000);
  const r = await pay(o2, signedBody(o2, 1_000, cert.certificate, key));
  t.is(r.status, 422);
  t.is(r.body.code, 'certificate_revoked');
  t.is(await attemptsOf(o2), 0);
  const tlsRes = await payOverMtls(o2, { cert: cert.certificate, key: key.privateKeyPem });
  t.is(tlsRes.status, 403);
  t.regex(tlsRes.body, /certificate_revoked/);
  t.is(await attemptsOf(o2), 0);
  const crl = await hub.api('GET', '/pki/crl.pem');
  t.is(crl.status, 200);
  t.regex(crl.text, /^-----BEGIN X509 CRL-----/);
  const caPem = await hub.api('GET', '/pki/ca.pem');
  t.is(new crypto.X509Certificate(caPem.text).fingerprint256, new crypto.X509Certificate(ca.certPem).fingerprint256);
  if (hasOpenssl()) {
    const v = openssl(['verify', '-crl_check', '-CAfile', 'ca.pem', '-CRLfile', 'crl.pem', 'leaf.pem'], { 'ca.pem': caPem.text, 'crl.pem': crl.text, 'leaf.pem': cert.certificate });
    t.regex(v.out, /certificate revoked/);
  }
  const bad = await admin('DELETE', `/v1/accounts/${acc.id}/certificates/${cert.serial}?reason=because`);
  t.is(bad.status, 422);
});

test('a 10 MB certificate upload is refused and the hub stays healthy', async (t) => {
  const o = await order();
  const r = await pay(o, { method: 'personal_account', certificate: 'A'.repeat(10 * 1024 * 1024), signature: 'AA==', signed_at: new Date().toISOString(), nonce: 'n'.repeat(20) });
  t.true(r.status === 413 || r.status === 422, String(r.status));
  t.is(await attemptsOf(o), 0);
  const big = await pay(o, { method: 'personal_account', certificate: 'A'.repeat(200 * 1024), signature: 'AA==', signed_at: new Date().toISOString(), nonce: 'n'.repeat(20) });
  t.is(big.status, 422);
  t.is(big.body.code, 'certificate_too_large');
  t.is((await hub.api('GET', '/pki/ca.pem')).status, 200);
});

test('a replayed signed request and a stale timestamp are refused', async (t) => {
  const acc = await account(5_000);
  const key = rsaKey();
  const cert = await issueCsr(acc.id, key);
  // Declined at the bank (insufficient funds): the order is payable again, so the replay reaches our check.
  const o = await order(9_000);
  const body = signedBody(o, 9_000, cert.certificate, key);
  const first = await pay(o, body);
  t.is(first.status, 201, first.text);
  t.is(first.body.status, 'declined');
  t.is(first.body.decline_reason, 'insufficient_funds');
  const before = await attemptsOf(o);
  const replay = await pay(o, body);
  t.is(replay.status, 409, replay.text);
  t.is(replay.body.code, 'nonce_reused');
  t.is(await attemptsOf(o), before);
  // The same nonce on another order.
  const o2 = await order(1_000);
  const again = await pay(o2, signedBody(o2, 1_000, cert.certificate, key, { nonce: body.nonce }));
  t.is(again.body.code, 'nonce_reused');
  // Stale: signed six minutes ago.
  const stale = await pay(o2, signedBody(o2, 1_000, cert.certificate, key, { signedAt: new Date(hub.clock.now().getTime() - 6 * 60_000).toISOString() }));
  t.is(stale.status, 422);
  t.is(stale.body.code, 'signature_expired');
  // A signature over another amount.
  const wrong = signedBody(o2, 999, cert.certificate, key);
  const bad = await pay(o2, wrong);
  t.is(bad.body.code, 'signature_invalid');
  t.is(await attemptsOf(o2), 0);
});

test('a blocked account and a currency the provider does not serve', async (t) => {
  const acc = await account(100_000, { blocked: true });
  const key = rsaKey();
  const cert = await issueCsr(acc.id, key);
  const o = await order(1_000);
  const r = await pay(o, signedBody(o, 1_000, cert.certificate, key));
  t.is(r.status, 201, r.text);
  t.is(r.body.status, 'declined');
  t.is(r.body.decline_reason, 'account_blocked');
  const usd = await order(1_000, 'USD');
  const u = await pay(usd, signedBody(usd, 1_000, cert.certificate, key, { currency: 'USD' }));
  t.is(u.status, 422);
  t.is(u.body.code, 'currency_not_served');
  t.is(await attemptsOf(usd), 0);
});

test('ten concurrent payments of 30% of the balance each: at most three succeed, the balance never goes negative', async (t) => {
  const acc = await account(100_000);
  const key = rsaKey();
  const cert = await issueCsr(acc.id, key);
  const orders = await Promise.all(Array.from({ length: 10 }, () => order(30_000)));
  const results = await Promise.all(orders.map((o) => pay(o, signedBody(o, 30_000, cert.certificate, key))));
  for (const r of results) t.is(r.status, 201, r.text);
  const captured = results.filter((r) => r.body.status === 'captured').length;
  const declined = results.filter((r) => r.body.status === 'declined');
  t.true(captured <= 3, `captured ${captured}`);
  t.is(captured, 3);
  for (const d of declined) t.is(d.body.decline_reason, 'insufficient_funds');
  const balance = await bankBalance(acc.number);
  t.true(balance >= 0);
  t.is(balance, 100_000 - captured * 30_000);
  const paid = (await Promise.all(orders.map(orderStatus))).filter((s) => s === 'paid').length;
  t.is(paid, captured);
});

test('accounts: admin token required, validation, GET returns a masked account number', async (t) => {
  const r = await hub.api('POST', '/v1/accounts', { key: merchant.key, body: { provider_id: providerId, holder: 'x', external_account_number: '12345678' } });
  t.true(r.status === 401 || r.status === 403);
  const bad = await admin('POST', '/v1/accounts', { provider_id: 'pap_nope', holder: 'x', external_account_number: '12345678' });
  t.is(bad.status, 422);
  t.is(bad.body.errors[0].field, 'provider_id');
  const acc = await account();
  const g = await admin('GET', `/v1/accounts/${acc.id}`);
  t.is(g.status, 200);
  t.is(g.body.account_number_last4, acc.number.slice(-4));
  t.false(JSON.stringify(g.body).includes(acc.number));
  const p = await admin('POST', '/v1/admin/account-providers', { name: 'x', bank_adapter: 'no-such-bank', currencies: ['RUB'] });
  t.is(p.status, 422);
  t.is(p.body.errors[0].field, 'bank_adapter');
  // A closed account cannot pay.
  const key = rsaKey();
  const cert = await issueCsr(acc.id, key);
  t.is((await admin('DELETE', `/v1/accounts/${acc.id}`)).body.status, 'closed');
  const o = await order(1_000);
  const c = await pay(o, signedBody(o, 1_000, cert.certificate, key));
  t.is(c.body.code, 'account_inactive');
  t.is(await attemptsOf(o), 0);
});
