import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StartupError } from '@payhub/core';
import { internal } from '../helpers/internal';

const { loadConfig } = internal<typeof import('../../core/src/config/load')>('config/load');

const emptyDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-cfgtest-'));

test('defaults: port 8080 and the SQLite file under data/', (t) => {
  const c = loadConfig({ configDir: emptyDir(), env: {} });
  t.is(c.port, 8080);
  t.is(c.database.url, 'sqlite:./data/payhub.sqlite');
  t.true(c.database.groupCommit);
  t.deepEqual(c.plugins, []);
  t.false(loadConfig({ configDir: emptyDir(), env: { PAYHUB_SQLITE_GROUP_COMMIT: 'false' } }).database.groupCommit);
});

test('environment overrides files; PAYHUB_CONFIG adds a file', (t) => {
  const dir = emptyDir();
  fs.writeFileSync(path.join(dir, 'default.yaml'), 'port: 9000\nlog:\n  level: warn\n');
  fs.writeFileSync(path.join(dir, 'local.yaml'), 'port: 9100\n');
  const extra = path.join(dir, 'extra.json');
  fs.writeFileSync(extra, JSON.stringify({ plugins: [{ resolve: './plugins/card' }] }));
  const c = loadConfig({ configDir: dir, env: { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x', PAYHUB_CONFIG: extra } });
  t.is(c.port, 9100);
  t.is(c.log.level, 'warn');
  t.is(c.database.url, 'postgres://postgres@127.0.0.1:5432/x');
  t.is(c.plugins[0]!.resolve, './plugins/card');
  t.deepEqual(c.sources, [path.join(dir, 'default.yaml'), path.join(dir, 'local.yaml'), extra]);
  t.is(loadConfig({ configDir: dir, env: { PORT: '7000' } }).port, 7000);
});

test('an invalid config names every bad key in one error', (t) => {
  const dir = emptyDir();
  fs.writeFileSync(path.join(dir, 'default.yaml'), 'port: 99999\nlog:\n  level: loud\nunknownKey: 1\nplugins:\n  - options: {}\n');
  const e = t.throws(() => loadConfig({ configDir: dir, env: {} }));
  t.true(e instanceof StartupError);
  const se = e as StartupError;
  t.is(se.code, 'PAYHUB_ERR_CONFIG_INVALID');
  for (const key of ['port', 'log.level', 'unknownKey', 'plugins.0.resolve']) t.regex(se.message, new RegExp(`- ${key.replace('.', '\\.')}`), key);
});

test('a bad environment value names the variable', (t) => {
  const e = t.throws(() => loadConfig({ configDir: emptyDir(), env: { PORT: 'eighty' } })) as StartupError;
  t.is(e.code, 'PAYHUB_ERR_CONFIG_INVALID');
  t.regex(e.message, /PORT/);
  const e2 = t.throws(() => loadConfig({ configDir: emptyDir(), env: { DATABASE_URL: 'mysql://x' } })) as StartupError;
  t.regex(e2.message, /DATABASE_URL/);
  const e3 = t.throws(() => loadConfig({ configDir: emptyDir(), env: { PAYHUB_WEBHOOKS_ALLOW_PRIVATE: 'maybe' } })) as StartupError;
  t.regex(e3.message, /PAYHUB_WEBHOOKS_ALLOW_PRIVATE/);
});

test('a config file that is not YAML is refused with its path', (t) => {
  const dir = emptyDir();
  fs.writeFileSync(path.join(dir, 'default.yaml'), 'port: [1, 2\n');
  const e = t.throws(() => loadConfig({ configDir: dir, env: {} })) as StartupError;
  t.regex(e.message, /default\.yaml is not valid YAML/);
});
