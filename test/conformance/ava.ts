/**
 * Registers each conformance check as a serial ava test. Usage, in an adapter's own test file:
 *
 *   import test from 'ava';
 *   import { registerConformanceTests } from '<payhub>/build/test/conformance/ava';
 *   registerConformanceTests(test, profile, async () => ({ adapter, close }));
 */
import type { TestFn } from 'ava';
import type { BankAdapter, BankConformanceProfile } from '@payhub/core';
import { checks, runCheck, validateProfile } from './kit';

export function registerConformanceTests(
  test: TestFn,
  profile: BankConformanceProfile,
  start: () => Promise<{ adapter: BankAdapter; close(): Promise<void> }>,
  opts: { title?: string } = {},
): void {
  const prefix = opts.title ?? `conformance ${profile.adapterId}`;
  let started: { adapter: BankAdapter; close(): Promise<void> } | null = null;
  test.before(async () => {
    started = await start();
  });
  test.after.always(async () => {
    await started?.close();
  });
  test.serial(`${prefix}: profile is valid`, (t) => {
    t.deepEqual(validateProfile(profile), []);
  });
  for (const check of checks) {
    if (check.applies && !check.applies(profile)) continue;
    test.serial(`${prefix}: ${check.name}`, async (t) => {
      const r = await runCheck(check, started!.adapter, profile);
      t.is(r.status, 'passed', r.message);
    });
  }
}
