import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { BankConformanceProfile } from '@payhub/core';
import { checks, runChecks } from './kit';
import { sandbox } from './fixtures/sandbox';
import { SuffixOnRetryAdapter } from './fixtures/broken-adapter';

const DUP = 'duplicate-authorize-charges-once';

async function withBrokenAdapter(fn: (a: SuffixOnRetryAdapter, inner: InstanceType<typeof sandbox.SandboxBankAdapter>) => Promise<void>) {
  const server = new sandbox.SandboxBankServer({ holdMs: 10_000 });
  const url = await server.start();
  try {
    const inner = new sandbox.SandboxBankAdapter({
      url: () => url, timeoutMs: 1500, merchantId: 'm', terminalId: 't', terminalSecret: sandbox.DEV_TERMINAL_SECRET, transport: 'http',
    });
    await fn(new SuffixOnRetryAdapter(inner), inner);
  } finally {
    await server.close();
  }
}

test('an adapter that changes the reference on retry fails exactly the duplicate check, seen in the bank ledger', async (t) => {
  await withBrokenAdapter(async (broken, inner) => {
    const profile: BankConformanceProfile = { ...sandbox.conformance, bankOperations: () => inner.ledger() };
    const results = await runChecks(broken, profile);
    t.is(results.length, checks.length);
    const failed = results.filter((r) => r.status === 'failed');
    t.deepEqual(failed.map((r) => r.name), [DUP], JSON.stringify(failed));
    t.regex(failed[0]!.message!, /^charged twice: the bank recorded 2 approved authorizations for one payment/);
    // And the bank really did charge twice: two approved authorizations whose references start with the same attempt.
    const ops = await inner.ledger();
    const auths = ops.filter((o) => o.kind === 'authorize' && o.approved && o.reference.startsWith('conf_duplicate'));
    t.is(auths.length, 2);
  });
});

test('without the bank ledger the duplicate check still catches the second charge through the bank reference', async (t) => {
  await withBrokenAdapter(async (broken) => {
    const { bankOperations: _drop, ...profile } = sandbox.conformance;
    const results = await runChecks(broken, profile, { only: [DUP, 'approve'] });
    t.deepEqual(results.map((r) => [r.name, r.status]), [['approve', 'passed'], [DUP, 'failed']]);
    t.regex(results[1]!.message!, /^charged twice: the retried authorize created another bank payment/);
  });
});

test('the same correct adapter, unwrapped, passes the duplicate check', async (t) => {
  await withBrokenAdapter(async (_broken, inner) => {
    const profile: BankConformanceProfile = { ...sandbox.conformance, bankOperations: () => inner.ledger() };
    const [r] = await runChecks(inner, profile, { only: [DUP] });
    t.deepEqual(r, { name: DUP, status: 'passed' });
  });
});

test('the conformance CLI exits 1 on the broken plugin and names the failed check', async (t) => {
  const root = path.resolve(__dirname, '../../..');
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn(process.execPath, [
      path.join(root, 'build/test/conformance/run.js'),
      path.join(root, 'build/test/conformance/fixtures/broken-bank-plugin.js'),
    ], { cwd: root });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('close', (code) => resolve({ code, out }));
  });
  t.is(r.code, 1, r.out);
  const notOk = r.out.split('\n').filter((l) => l.startsWith('not ok'));
  t.is(notOk.length, 1, r.out);
  t.regex(notOk[0]!, new RegExp(`^not ok \\d+ - ${DUP}$`));
  t.regex(r.out, /# \d+ passed, 1 failed/);
});
