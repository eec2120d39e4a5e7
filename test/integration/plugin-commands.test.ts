import test from 'ava';
import { spawn } from 'node:child_process';
import { CLI, ROOT } from '../helpers/paths';

/** Runs `payhub <args>` until `ready` matches its output, then stops it with SIGTERM. */
async function runUntil(args: string[], ready: RegExp, stop = true): Promise<{ output: string; code: number | null }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const seen = new Promise<void>((resolve) => {
    const on = (d: Buffer) => {
      output += d;
      if (ready.test(output)) resolve();
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const timeout = new Promise<void>((resolve) => setTimeout(resolve, 30_000));
  await Promise.race([stop ? seen : exit, exit, timeout]);
  child.kill('SIGTERM');
  return { output, code: await exit };
}

for (const [name, line] of [['webmoney', /WebMoney emulator: (http:\/\/\S+)/], ['yoomoney', /YooMoney emulator: (http:\/\/\S+)/], ['qiwi', /QIWI emulator: (http:\/\/\S+)/]] as const) {
  test(`payhub emulate ${name} runs that provider's emulator`, async (t) => {
    const r = await runUntil(['emulate', name], line);
    const url = line.exec(r.output)?.[1];
    t.truthy(url, r.output);
  });
}

test('payhub emulate without a known provider names the choices', async (t) => {
  const r = await runUntil(['emulate', 'paypal'], /usage/, false);
  t.regex(r.output, /usage: payhub emulate <webmoney\|yoomoney\|qiwi>/);
  t.is(r.code, 1);
});
