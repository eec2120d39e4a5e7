/**
 * The plugin as the hub sees it: options, register() → TOKENS.BankAdapter, onReady starts the emulator on its own
 * port, onClose stops it; the `payhub sandbox-bank` command runs it standalone.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { container, instanceCachingFactory, type DependencyContainer, type InjectionToken } from 'tsyringe';
import pino from 'pino';
import { TOKENS, type BankAdapter, type HubConfig, type LifecycleContext } from '@payhub/core';
import type { Knex } from 'knex';
import plugin, { conformance, sandboxBankOptions, type SandboxBankOptions, SandboxBankAdapter, TEST_CARDS } from '../src/index';
import { card, closedPort, ref, rub } from './helpers';

function boot(raw: Record<string, unknown>) {
  const root = container.createChildContainer();
  const child = root.createChildContainer();
  const options = plugin.options!.parse(raw);
  const logger = pino({ level: 'silent' });
  const config = {} as HubConfig;
  plugin.register!({
    container: child, options, logger, config,
    provide<T>(token: InjectionToken<T>, p: { useValue: T } | { useFactory: (c: DependencyContainer) => T }) {
      if ('useValue' in p) root.register(token, { useValue: p.useValue });
      else root.register(token, { useFactory: instanceCachingFactory(() => p.useFactory(child)) });
    },
  });
  const life: LifecycleContext<SandboxBankOptions> = { container: child, options, logger, config, db: undefined as unknown as Knex };
  return { root, life };
}

test('options: defaults, and inproc with an external url is refused', (t) => {
  const o = sandboxBankOptions.parse({});
  t.like(o, { port: 0, host: '127.0.0.1', timeoutMs: 5000, transport: 'http' });
  t.is(o.url, undefined);
  const bad = sandboxBankOptions.safeParse({ transport: 'inproc', url: 'http://127.0.0.1:9' });
  t.false(bad.success);
  t.deepEqual(bad.error?.issues.map((i) => i.path.join('.')), ['transport']);
  t.false(sandboxBankOptions.safeParse({ timeoutMs: 1.5 }).success);
  t.false(sandboxBankOptions.safeParse({ terminalSecret: 'short' }).success);
  t.false(sandboxBankOptions.safeParse({ url: 'ftp://x' }).success);
});

test('register provides the adapter; onReady starts the emulator; onClose stops it', async (t) => {
  const { root, life } = boot({ timeoutMs: 2000 });
  const adapters = root.resolveAll<BankAdapter>(TOKENS.BankAdapter);
  t.is(adapters.length, 1);
  const a = adapters[0] as SandboxBankAdapter;
  t.is(a.id, 'sandbox-bank');
  t.is(a.displayName, 'Sandbox Bank');
  t.deepEqual(a.contract.fields.map((f) => f.name), ['merchantId', 'terminalId', 'secret']);
  t.true(a.contract.fields.find((f) => f.name === 'secret')!.secret);
  t.true(a.contract.documents.length > 0);
  // Before onReady there is no emulator: nothing can have been sent.
  t.deepEqual(await a.authorize({ reference: ref(), amount: rub(100), capture: false, source: card(TEST_CARDS.visa) }), { outcome: 'not_sent', reason: 'emulator_not_running' });
  await plugin.onReady!(life);
  const url = a.emulatorUrl()!;
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.like(await a.authorize({ reference: ref(), amount: rub(100), capture: false, source: card(TEST_CARDS.visa) }), { outcome: 'processed' });
  await plugin.onClose!(life);
  t.like(await a.authorize({ reference: ref(), amount: rub(100), capture: false, source: card(TEST_CARDS.visa) }), { outcome: 'not_sent', reason: 'connection_refused' });
});

test('with `url` the plugin starts nothing and uses the external emulator', async (t) => {
  const port = await closedPort();
  const { root, life } = boot({ url: `http://127.0.0.1:${port}` });
  await plugin.onReady!(life);
  const a = root.resolve<BankAdapter>(TOKENS.BankAdapter) as SandboxBankAdapter;
  t.is(a.emulatorUrl(), `http://127.0.0.1:${port}`);
  t.like(await a.authorize({ reference: ref(), amount: rub(100), capture: false, source: card(TEST_CARDS.visa) }), { outcome: 'not_sent', reason: 'connection_refused' });
  await plugin.onClose!(life);
});

test('two hubs in one process get two emulators', async (t) => {
  const h1 = boot({});
  const h2 = boot({});
  await plugin.onReady!(h1.life);
  await plugin.onReady!(h2.life);
  const a1 = h1.root.resolve<BankAdapter>(TOKENS.BankAdapter) as SandboxBankAdapter;
  const a2 = h2.root.resolve<BankAdapter>(TOKENS.BankAdapter) as SandboxBankAdapter;
  t.not(a1.emulatorUrl(), a2.emulatorUrl());
  const reference = ref();
  await a1.authorize({ reference, amount: rub(100), capture: false, source: card(TEST_CARDS.visa) });
  t.like(await a2.status({ reference }), { outcome: 'not_sent' });
  await plugin.onClose!(h1.life);
  await plugin.onClose!(h2.life);
});

test('inproc transport through the plugin', async (t) => {
  const { root, life } = boot({ transport: 'inproc' });
  await plugin.onReady!(life);
  try {
    const a = root.resolve<BankAdapter>(TOKENS.BankAdapter);
    t.like(await a.authorize({ reference: ref(), amount: rub(100), capture: true, source: card(TEST_CARDS.mir) }), { outcome: 'processed', state: 'captured' });
  } finally {
    await plugin.onClose!(life);
  }
});

test('the `sandbox-bank` command prints its URL, serves, and exits 0 on SIGTERM', async (t) => {
  const cmd = plugin.commands!.find((c) => c.name === 'sandbox-bank')!;
  t.is(cmd.needsDb, false);
  const entry = path.join(__dirname, '../src/index.js');
  const script = `
    const p = require(${JSON.stringify(entry)}).default;
    const options = p.options.parse({});
    const cmd = p.commands.find((c) => c.name === 'sandbox-bank');
    cmd.run(process.argv.slice(1), { options, container: null, logger: null, config: {}, db: null }).then((code) => process.exit(code ?? 0));
  `;
  const child = spawn(process.execPath, ['-e', script, '--', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+)\n/m.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`exited early with ${code}`)));
  });
  const health = await fetch(`${url}/health`);
  t.deepEqual(await health.json(), { ok: true });
  const code = await new Promise<number | null>((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (c) => resolve(c));
    child.kill('SIGTERM');
  });
  t.is(code, 0);
});

test('the exported conformance profile points at the sandbox test cards', (t) => {
  t.is(conformance.adapterId, 'sandbox-bank');
  t.is(conformance.cards.approve, TEST_CARDS.visa);
  t.is(conformance.cards.timeout, TEST_CARDS.lostAnswer);
  t.true((conformance.pluginOptions?.timeoutMs as number) < 5000);
});
