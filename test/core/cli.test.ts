import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDatabase } from '@payhub/core';
import { CLI, ROOT, fixturePlugin } from '../helpers/paths';

const run = promisify(execFile);

function configFile(plugins: Array<{ resolve: string; options?: unknown }>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-cli-'));
  const f = path.join(dir, 'config.json');
  fs.writeFileSync(f, JSON.stringify({ plugins, demo: { enabled: false }, log: { level: 'warn' } }));
  return f;
}

async function cli(args: string[], env: Record<string, string>) {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

test('payhub plugins --json lists the configured plugins with name and version', async (t) => {
  const r = await cli(['plugins', '--json'], { PAYHUB_CONFIG: configFile([{ resolve: fixturePlugin('good-b') }, { resolve: fixturePlugin('good-a') }]) });
  t.is(r.code, 0, r.stderr);
  const list = JSON.parse(r.stdout);
  t.deepEqual(list.map((p: { name: string; version: string }) => [p.name, p.version]), [['good-b', '0.3.0'], ['good-a', '1.2.0']]);
});

test('a bad plugin configuration exits non-zero with one clear coded line', async (t) => {
  const r = await cli(['plugins', '--json'], { PAYHUB_CONFIG: configFile([{ resolve: fixturePlugin('future-core') }]) });
  t.is(r.code, 1);
  t.is(r.stderr.trim(), 'PAYHUB_ERR_PLUGIN_VERSION_MISMATCH: plugin "sandbox-bank-next" needs core ^2, this is 1.0.0');
});

test('an invalid config exits non-zero naming the key', async (t) => {
  const r = await cli(['plugins'], { PORT: 'http', PAYHUB_CONFIG: configFile([]) });
  t.is(r.code, 1);
  t.regex(r.stderr, /^PAYHUB_ERR_CONFIG_INVALID: invalid config:\n {2}- port \(PORT\):/);
});

test('start with a plugin whose onReady throws exits 1 and never opens its port', async (t) => {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  const port = await freePort();
  const r = await cli(['start'], {
    PORT: String(port), DATABASE_URL: db.url,
    PAYHUB_CONFIG: configFile([{ resolve: fixturePlugin('good-b') }, { resolve: fixturePlugin('ready-throws') }]),
  });
  t.is(r.code, 1);
  t.regex(r.stderr, /PAYHUB_ERR_PLUGIN_READY_FAILED: plugin "ready-throws" failed in onReady: cannot reach the bank/);
  const open = await new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); }).on('error', () => resolve(false));
  });
  t.false(open);
});

test('merchants create --json prints the merchant with a test key and a webhook secret', async (t) => {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  const r = await cli(['merchants', 'create', '--name', 'Demo shop', '--notify-url', 'https://shop.example/hook', '--json'], { DATABASE_URL: db.url, PAYHUB_CONFIG: configFile([]) });
  t.is(r.code, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  t.is(m.name, 'Demo shop');
  t.is(m.mode, 'test');
  t.regex(m.id, /^mer_/);
  t.regex(m.test_secret_key, /^sk_test_[A-Za-z0-9]{32}$/);
  t.regex(m.webhook_secret, /^whsec_/);
});

test('start serves /health on the configured database and stops cleanly on SIGTERM', async (t) => {
  const db = await createTestDatabase();
  t.teardown(() => db.drop());
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'start'], {
    cwd: ROOT, env: { ...process.env, PORT: String(port), DATABASE_URL: db.url, PAYHUB_CONFIG: configFile([{ resolve: './plugins/sandbox-bank' }]) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 200));
    status = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0);
  }
  t.is(status, 200, output);
  child.kill('SIGTERM');
  t.is(await exited, 0, output);
});

test('plugins add checks the plugin before writing the config; plugins remove refuses to orphan a dependent', async (t) => {
  const file = configFile([{ resolve: fixturePlugin('good-b') }]);
  const bad = await cli(['plugins', 'add', fixturePlugin('future-core')], { PAYHUB_CONFIG: file });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /PAYHUB_ERR_PLUGIN_VERSION_MISMATCH/);
  t.is(JSON.parse(fs.readFileSync(file, 'utf8')).plugins.length, 1, 'nothing written on refusal');
  const missing = await cli(['plugins', 'add', fixturePlugin('needs-missing')], { PAYHUB_CONFIG: file });
  t.is(missing.code, 1);
  t.regex(missing.stderr, /PAYHUB_ERR_PLUGIN_DEPENDENCY_MISSING/);
  const ok = await cli(['plugins', 'add', fixturePlugin('good-a')], { PAYHUB_CONFIG: file });
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).plugins.map((p: { resolve: string }) => p.resolve), [fixturePlugin('good-b'), fixturePlugin('good-a')]);
  const dup = await cli(['plugins', 'add', fixturePlugin('good-a')], { PAYHUB_CONFIG: file });
  t.regex(dup.stderr, /PAYHUB_ERR_PLUGIN_DUPLICATE/);
  const orphan = await cli(['plugins', 'remove', 'good-b'], { PAYHUB_CONFIG: file });
  t.is(orphan.code, 1);
  t.regex(orphan.stderr, /plugin "good-b" is needed by "good-a"/);
  const rm = await cli(['plugins', 'remove', 'good-a'], { PAYHUB_CONFIG: file });
  t.is(rm.code, 0, rm.stderr);
  t.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')).plugins.map((p: { resolve: string }) => p.resolve), [fixturePlugin('good-b')]);
});
