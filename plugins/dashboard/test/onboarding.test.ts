import test from 'ava';
import { TOKENS } from '@payhub/core';
import { APPLICATION, CARD_OK, TERMINAL_SECRET, startEnv } from './helpers';

const HOUR = 3600_000;

test('an application opens a test merchant whose key stops after the test day; registration lifts the limit', async (t) => {
  const env = await startEnv();
  t.teardown(() => env.close());
  const { hub } = env;
  const r = await hub.api('POST', '/v1/applications', { body: APPLICATION });
  t.is(r.status, 201, r.text);
  t.regex(r.body.test_secret_key, /^sk_test_/);
  t.is(r.body.status, 'test');
  const expires = Date.parse(r.body.test_expires_at);
  t.true(Math.abs(expires - (hub.clock.now().getTime() + 24 * HOUR)) < 60_000);
  const m = await hub.container.resolve(TOKENS.Merchants).get(r.body.merchant_id);
  t.is(m!.mode, 'test');
  t.is(m!.testExpiresAt, r.body.test_expires_at);
  const key = r.body.test_secret_key as string;

  const ok = await hub.api('POST', '/v1/orders', { key, body: { order_number: 'a-1', amount: 1000, currency: 'RUB' } });
  t.is(ok.status, 201);

  // Past the test day without registration: the test key is refused with test_mode_expired.
  hub.clock.advance(24 * HOUR + 1000);
  const expired = await hub.api('POST', '/v1/orders', { key, body: { order_number: 'a-2', amount: 1000, currency: 'RUB' } });
  t.is(expired.status, 401);
  t.is(expired.body.code, 'test_mode_expired');
  // …and so is the registration call through the API (the dashboard remains the way back).
  const late = await hub.api('POST', `/v1/applications/${r.body.id}/register`, { key, body: {} });
  t.is(late.status, 401);

  // A second applicant registers within its test day: its key keeps working after the day.
  const r2 = await hub.api('POST', '/v1/applications', { body: { ...APPLICATION, contact_email: 'b@shop.example', shop_name: 'B shop' } });
  t.is(r2.status, 201);
  const bad = await hub.api('POST', `/v1/applications/${r2.body.id}/register`, { key: r2.body.test_secret_key, body: { legal: { address: 'x'.repeat(600) } } });
  t.is(bad.status, 422);
  t.is(bad.body.errors[0].field, 'legal.address');
  const reg = await hub.api('POST', `/v1/applications/${r2.body.id}/register`, { key: r2.body.test_secret_key, body: {} });
  t.is(reg.status, 200, reg.text);
  t.is(reg.body.application.status, 'registered');
  t.is(reg.body.test_expires_at, null);
  hub.clock.advance(48 * HOUR);
  const still = await hub.api('POST', '/v1/orders', { key: r2.body.test_secret_key, body: { order_number: 'b-1', amount: 1000, currency: 'RUB' } });
  t.is(still.status, 201);

  // Another merchant's application is not found with this key.
  const other = await hub.api('POST', `/v1/applications/${r.body.id}/bank`, { key: r2.body.test_secret_key, body: { bank_id: 'sandbox-bank' } });
  t.is(other.status, 404);

  const events = await hub.db('dashboard_onboarding_events').where({ merchant_id: r2.body.merchant_id }).orderBy('id');
  t.deepEqual(events.map((e: { action: string }) => e.action), ['application_submitted', 'registered']);
  t.is(events[1].actor, 'merchant:api');
  t.truthy(events[1].at);
  const audit = await hub.db('audit_log').where({ merchant_id: r2.body.merchant_id, action: 'onboarding.registered' });
  t.is(audit.length, 1);
});

test('applications are validated and rate-limited; operator-created merchants have no limit', async (t) => {
  const env = await startEnv({ applicationsPerHour: 3 });
  t.teardown(() => env.close());
  const { hub } = env;
  const bad = await hub.api('POST', '/v1/applications', { body: { ...APPLICATION, contact_email: 'not-an-email', legal: { name: 'X' } } });
  t.is(bad.status, 422);
  const fields = bad.body.errors.map((e: { field: string }) => e.field);
  t.true(fields.includes('contact_email'));
  t.true(fields.includes('legal.address'));
  t.true(fields.includes('legal.tax_id'));
  const ok = await hub.api('POST', '/v1/applications', { body: APPLICATION });
  t.is(ok.status, 201);
  const dup = await hub.api('POST', '/v1/applications', { body: APPLICATION });
  t.is(dup.status, 409);
  t.is(dup.body.code, 'email_taken');
  const limited = await hub.api('POST', '/v1/applications', { body: { ...APPLICATION, contact_email: 'c@x.example' } });
  t.is(limited.status, 429);

  const direct = await hub.api('POST', '/v1/admin/merchants', { headers: { authorization: `Bearer ${hub.config.adminToken}` }, body: { name: 'Direct' } });
  t.is(direct.status, 201);
  hub.clock.advance(30 * 24 * HOUR);
  const r = await hub.api('POST', '/v1/orders', { key: direct.body.test_secret_key, body: { order_number: 'd-1', amount: 100, currency: 'RUB' } });
  t.is(r.status, 201);
});

test('bank choice, production request, contract, connection check and the switch to production', async (t) => {
  const env = await startEnv();
  t.teardown(() => env.close());
  const { hub, smtp } = env;
  const admin = { authorization: `Bearer ${hub.config.adminToken}` };
  const app = (await hub.api('POST', '/v1/applications', { body: APPLICATION })).body;
  const key = app.test_secret_key as string;

  const banks = await hub.api('GET', '/v1/banks');
  const sandbox = banks.body.data.find((b: { id: string }) => b.id === 'sandbox-bank');
  t.is(sandbox.display_name, 'Sandbox Bank');
  t.true(sandbox.contract.documents.length > 0);
  t.true(sandbox.contract.fields.some((f: { name: string; secret: boolean }) => f.name === 'secret' && f.secret));

  // Production before registration and bank choice is refused.
  const early = await hub.api('POST', `/v1/applications/${app.id}/production-request`, { key });
  t.is(early.status, 409);
  t.is(early.body.code, 'registration_required');
  await hub.api('POST', `/v1/applications/${app.id}/register`, { key, body: {} });
  const unknownBank = await hub.api('POST', `/v1/applications/${app.id}/bank`, { key, body: { bank_id: 'nope' } });
  t.is(unknownBank.status, 422);
  const secretByMerchant = await hub.api('POST', `/v1/applications/${app.id}/bank`, { key, body: { bank_id: 'sandbox-bank', details: { secret: 'x' } } });
  t.is(secretByMerchant.status, 422);
  const bank = await hub.api('POST', `/v1/applications/${app.id}/bank`, { key, body: { bank_id: 'sandbox-bank', details: { bic: '044525225' } } });
  t.is(bank.status, 200, bank.text);
  t.is(bank.body.application.bank_id, 'sandbox-bank');
  const req = await smtp.waitFor((m) => m.subject.includes('what Sandbox Bank needs'));
  t.deepEqual(req.to, ['owner@flowers.example']);
  t.true(req.body.includes('Certificate of incorporation'));
  const prodReq = await hub.api('POST', `/v1/applications/${app.id}/production-request`, { key });
  t.is(prodReq.status, 200);
  t.is(prodReq.body.application.status, 'production_requested');

  // No contract: no production (409).
  const noContract = await hub.api('POST', `/v1/admin/onboarding/${app.merchant_id}/production`, { headers: admin });
  t.is(noContract.status, 409);
  t.is(noContract.body.code, 'contract_required');
  // Missing required contract fields are named.
  const incomplete = await hub.api('POST', `/v1/admin/onboarding/${app.merchant_id}/contract`, { headers: admin, body: { bank_id: 'sandbox-bank', bank_merchant_id: 'm-1', terminal_id: 'sandbox-terminal' } });
  t.is(incomplete.status, 422);
  t.is(incomplete.body.errors[0].field, 'credentials.secret');
  // A wrong terminal secret: the check fails and the switch is refused.
  const wrong = await hub.api('POST', `/v1/admin/onboarding/${app.merchant_id}/contract`, { headers: admin, body: { bank_id: 'sandbox-bank', bank_merchant_id: 'm-1', terminal_id: 'sandbox-terminal', credentials: { secret: 'wrong-secret-wrong-secret' } } });
  t.is(wrong.status, 201, wrong.text);
  t.false(JSON.stringify(wrong.body).includes('wrong-secret'));
  const failed = await hub.api('POST', `/v1/admin/onboarding/${app.merchant_id}/production`, { headers: admin });
  t.is(failed.status, 409);
  t.is(failed.body.code, 'connection_check_failed');
  t.is((await hub.container.resolve(TOKENS.Merchants).get(app.merchant_id))!.mode, 'test');

  const right = await hub.api('POST', `/v1/admin/onboarding/${app.merchant_id}/contract`, { headers: admin, body: { bank_id: 'sandbox-bank', bank_merchant_id: 'm-1', terminal_id: 'sandbox-terminal', credentials: { secret: TERMINAL_SECRET } } });
  t.is(right.status, 201);
  const stored = await hub.db('dashboard_contracts').where({ id: right.body.id }).first();
  t.false(stored.credentials_enc.includes(TERMINAL_SECRET));
  const check = await hub.api('POST', `/v1/admin/onboarding/${app.merchant_id}/connection-check`, { headers: admin });
  t.is(check.body.check_status, 'ok', check.text);
  const live = await hub.api('POST', `/v1/admin/onboarding/${app.merchant_id}/production`, { headers: admin });
  t.is(live.status, 200, live.text);
  t.regex(live.body.live_secret_key, /^sk_live_/);
  const mail = await smtp.waitFor((m) => m.subject.includes('is live'));
  t.deepEqual(mail.to, ['owner@flowers.example']);
  const again = await hub.api('POST', `/v1/admin/onboarding/${app.merchant_id}/production`, { headers: admin });
  t.is(again.status, 409);

  // Live: the live key works, the test key is refused as a mode mismatch.
  const o = await hub.api('POST', '/v1/orders', { key: live.body.live_secret_key, body: { order_number: 'live-1', amount: 500, currency: 'RUB' } });
  t.is(o.status, 201);
  t.is(o.body.mode, 'live');
  const testKey = await hub.api('POST', '/v1/orders', { key, body: { order_number: 'live-2', amount: 500, currency: 'RUB' } });
  t.is(testKey.status, 401);
  t.is(testKey.body.code, 'key_mode_mismatch');
  // Back in test mode the live key is refused (core).
  await hub.container.resolve(TOKENS.Merchants).switchMode(app.merchant_id, 'test', 'operator');
  const liveInTest = await hub.api('POST', '/v1/orders', { key: live.body.live_secret_key, body: { order_number: 'live-3', amount: 500, currency: 'RUB' } });
  t.is(liveInTest.status, 401);
  t.is(liveInTest.body.code, 'key_mode_mismatch');

  const actions = (await hub.db('dashboard_onboarding_events').where({ merchant_id: app.merchant_id }).orderBy('id')).map((e: { action: string; actor: string }) => `${e.action}/${e.actor}`);
  t.deepEqual(actions, [
    'application_submitted/applicant', 'registered/merchant:api', 'bank_chosen/merchant:api', 'production_requested/merchant:api',
    'contract_recorded/operator', 'connection_checked/operator', 'contract_recorded/operator', 'connection_checked/operator', 'switched_to_production/operator',
  ]);
  t.false(hub.logs.some((l) => l.includes(TERMINAL_SECRET)));
});

test('a card payment works in test mode for an applicant', async (t) => {
  const env = await startEnv();
  t.teardown(() => env.close());
  const { hub } = env;
  const app = (await hub.api('POST', '/v1/applications', { body: APPLICATION })).body;
  const o = await hub.api('POST', '/v1/orders', { key: app.test_secret_key, body: { order_number: 'p-1', amount: 19900, currency: 'RUB' } });
  const p = await hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: app.test_secret_key, body: CARD_OK });
  t.is(p.status, 201, p.text);
  t.is(p.body.status, 'captured');
});
