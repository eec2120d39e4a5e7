import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { createTestHub } from '@payhub/core';
import { APPLICATION, SANDBOX, SELF, decodeMail, startEnv } from './helpers';

test('SMTP: the application mail in Russian reaches the applicant with a set-password link', async (t) => {
  const env = await startEnv();
  t.teardown(() => env.close());
  const r = await env.hub.api('POST', '/v1/applications', { body: { ...APPLICATION, lang: 'ru' } });
  t.is(r.status, 201);
  const m = await env.smtp.waitFor((x) => x.to.includes('owner@flowers.example'));
  t.is(m.from, 'hub@test.local');
  t.is(m.subject, 'Payhub: тестовый кабинет магазина Flower shop готов');
  t.regex(m.body, /\/dashboard\/password\/set\?token=[A-Za-z0-9_-]{20,}/);
  t.true(m.body.includes(r.body.merchant_id));
  // The key itself is never mailed, only its last 4 characters.
  t.false(m.raw.includes(r.body.test_secret_key));
  t.true(m.body.includes(`…${(r.body.test_secret_key as string).slice(-4)}`));
  const line = env.hub.logs.find((l) => l.includes('mail sent'));
  t.truthy(line);
  t.false(line!.includes('token='));
});

test('without SMTP options mails are written as .eml files and only subject and recipient are logged', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-eml-'));
  const hub = await createTestHub({ plugins: [{ resolve: SANDBOX }, { resolve: SELF, options: { dataDir: dir, mailDir: path.join(dir, 'mail') } }] });
  t.teardown(async () => {
    await hub.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const r = await hub.api('POST', '/v1/applications', { body: APPLICATION });
  t.is(r.status, 201);
  const files = fs.readdirSync(path.join(dir, 'mail')).filter((f) => f.endsWith('.eml'));
  t.is(files.length, 1);
  t.is(fs.statSync(path.join(dir, 'mail', files[0]!)).mode & 0o777, 0o600);
  const m = decodeMail(fs.readFileSync(path.join(dir, 'mail', files[0]!), 'utf8'));
  t.is(m.subject, 'Payhub: your test account for Flower shop is ready');
  t.regex(m.body, /set\?token=/);
  const logged = hub.logs.filter((l) => l.includes('mail written'));
  t.is(logged.length, 1);
  t.true(logged[0]!.includes('owner@flowers.example'));
  t.false(logged[0]!.includes('token'));
});

test('an unreachable SMTP relay does not undo the application; the failure is recorded', async (t) => {
  const env = await startEnv({ smtp: { host: '127.0.0.1', port: 1, ignoreTLS: true, timeoutMs: 2000 } });
  t.teardown(() => env.close());
  const r = await env.hub.api('POST', '/v1/applications', { body: APPLICATION });
  t.is(r.status, 201);
  const ev = await env.hub.db('dashboard_onboarding_events').where({ merchant_id: r.body.merchant_id, action: 'mail_failed' });
  t.is(ev.length, 1);
});
