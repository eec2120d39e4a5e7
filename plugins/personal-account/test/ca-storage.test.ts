/**
 * The CA made on first start: stored encrypted (never in clear in any column), kept across restarts; the CLI.
 */
import test from 'ava';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory from 'knex';
import { createTestHub, TOKENS, type Keyring, type LifecycleContext, type TestHub } from '@payhub/core';
import { csrFor, rsaKey } from './helpers';

const plugins = [
  { resolve: './plugins/sandbox-bank' },
  { resolve: './plugins/personal-account', options: { mtlsPort: 0, mtlsHost: '127.0.0.1' } },
];

async function textValues(hub: TestHub): Promise<Array<{ table: string; column: string; value: string }>> {
  const tables: string[] = hub.kind === 'sqlite'
    ? (await hub.db.raw("select name from sqlite_master where type = 'table'")).map((r: { name: string }) => r.name)
    : (await hub.db.raw("select table_name from information_schema.tables where table_schema = 'public'")).rows.map((r: { table_name: string }) => r.table_name);
  const out: Array<{ table: string; column: string; value: string }> = [];
  for (const table of tables) {
    const rows = await hub.db(table).select('*');
    for (const row of rows) {
      for (const [column, value] of Object.entries(row as Record<string, unknown>)) {
        if (typeof value === 'string') out.push({ table, column, value });
        else if (Buffer.isBuffer(value)) out.push({ table, column, value: value.toString('latin1') });
      }
    }
  }
  return out;
}

function cliContext(hub: TestHub): LifecycleContext<never> {
  const lp = hub.hub.plugins.find((p) => p.plugin.name === 'personal-account')!;
  return { container: lp.container, options: lp.options as never, logger: lp.logger, config: hub.config, db: hub.db };
}

test('first start creates a CA (RSA 3072, CA:true); its key is in no column in clear and survives a restart', async (t) => {
  let hub = await createTestHub({ plugins });
  let closed = false;
  try {
    const caPem = (await hub.api('GET', '/pki/ca.pem')).text;
    const ca = new crypto.X509Certificate(caPem);
    t.true(ca.ca);
    t.is(ca.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
    t.is(ca.publicKey.asymmetricKeyDetails?.publicExponent, 65537n);
    t.true(ca.verify(ca.publicKey));

    const row = await hub.db('pa_ca').first();
    const keyPem = hub.container.resolve<Keyring>(TOKENS.Keyring).decrypt(row.key_enc, 'pa_ca.key_enc');
    const key = crypto.createPrivateKey(keyPem);
    t.true(ca.checkPrivateKey(key));
    const body = keyPem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const der = key.export({ type: 'pkcs8', format: 'der' });
    const pkcs1 = key.export({ type: 'pkcs1', format: 'der' });
    const needles = [body.slice(0, 64), body.slice(400, 464), body.slice(-80, -16), 'PRIVATE KEY-----'];
    const binNeedles = [der.subarray(40, 72).toString('latin1'), pkcs1.subarray(300, 332).toString('latin1'),
      der.subarray(40, 72).toString('hex'), der.subarray(40, 72).toString('base64')];
    const values = await textValues(hub);
    t.true(values.some((v) => v.table === 'pa_ca' && v.column === 'key_enc' && v.value.length > 1000), 'the scan sees pa_ca.key_enc');
    for (const v of values) {
      for (const n of [...needles, ...binNeedles]) t.false(v.value.includes(n), `${v.table}.${v.column} holds CA key material`);
    }
    t.false(hub.logs.some((l) => l.includes(body.slice(0, 64))));

    // CLI: accounts and certificates.
    const ctx = cliContext(hub);
    const plugin = hub.hub.plugins.find((p) => p.plugin.name === 'personal-account')!.plugin;
    const cmd = (name: string) => plugin.commands!.find((c) => c.name === name)!;
    const writes: string[] = [];
    const origOut = process.stdout.write.bind(process.stdout);
    const origErr = process.stderr.write.bind(process.stderr);
    (process.stdout as unknown as { write: unknown }).write = (s: string) => { writes.push(String(s)); return true; };
    (process.stderr as unknown as { write: unknown }).write = (s: string) => { writes.push(String(s)); return true; };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-cli-'));
    let codes: unknown[] = [];
    try {
      codes.push(await cmd('accounts').run(['providers-create', '--name', 'Bank', '--bank-adapter', 'sandbox-bank', '--currencies', 'RUB'], ctx));
      const provider = JSON.parse(writes.pop()!).id as string;
      codes.push(await cmd('accounts').run(['create', '--provider', provider, '--holder', 'Anna', '--number', '40817000111'], ctx));
      const account = JSON.parse(writes.pop()!).id as string;
      fs.writeFileSync(path.join(dir, 'req.pem'), csrFor(rsaKey()));
      codes.push(await cmd('certs').run(['issue', '--account', account, '--csr', path.join(dir, 'req.pem'), '--out', path.join(dir, 'cert.pem')], ctx));
      const serial = new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'cert.pem'))).serialNumber.toLowerCase();
      fs.writeFileSync(path.join(dir, 'pw'), 'bundle-password-123\n');
      codes.push(await cmd('certs').run(['issue', '--account', account, '--p12', path.join(dir, 'b.p12'), '--password-file', path.join(dir, 'pw')], ctx));
      codes.push(await cmd('certs').run(['issue', '--account', account, '--p12', path.join(dir, 'c.p12'), '--password', 'on-the-command-line'], ctx));
      codes.push(await cmd('certs').run(['revoke', '--serial', serial, '--reason', 'superseded'], ctx));
      t.deepEqual(codes, [0, 0, 0, 0, 2, 0]);
      t.true(fs.statSync(path.join(dir, 'b.p12')).size > 1000);
      t.false(fs.existsSync(path.join(dir, 'c.p12')));
      const rev = await hub.db('pa_certificates').where({ serial }).first();
      t.is(rev.status, 'revoked');
      t.is(rev.revocation_reason, 'superseded');
      codes = [await cmd('certs').run(['revoke', '--serial', serial, '--reason', 'nope'], ctx)];
      t.deepEqual(codes, [1]);
    } finally {
      process.stdout.write = origOut;
      process.stderr.write = origErr;
      fs.rmSync(dir, { recursive: true, force: true });
    }

    const url = hub.databaseUrl;
    const masterKey = hub.config.keys.masterKey!;
    await hub.close({ keepDatabase: true });
    closed = true;
    // Restart with a rotated master key (version 2, the old one kept as previous): the CA still loads; `keys rotate`
    // re-wraps the CA key and the account numbers under version 2.
    const newKey = crypto.randomBytes(32).toString('base64');
    hub = await createTestHub({ plugins, databaseUrl: url, config: { keys: { masterKey: newKey, version: 2, previous: { 1: masterKey } } } });
    closed = false;
    const again = (await hub.api('GET', '/pki/ca.pem')).text;
    t.is(new crypto.X509Certificate(again).fingerprint256, ca.fingerprint256);
    t.regex((await hub.db('pa_ca').first()).key_enc, /^v1\./);
    const keysCmd = hub.hub.plugins.find((p) => p.plugin.name === 'personal-account')!.plugin.commands!.find((c) => c.name === 'keys')!;
    const silence = process.stdout.write;
    (process.stdout as unknown as { write: unknown }).write = () => true;
    try {
      t.is(await keysCmd.run(['rotate'], cliContext(hub)), 0);
    } finally {
      process.stdout.write = silence;
    }
    t.regex((await hub.db('pa_ca').first()).key_enc, /^v2\./);
    for (const a of await hub.db('pa_accounts').select('account_number_enc')) t.regex(a.account_number_enc, /^v2\./);
    const kr = hub.container.resolve<Keyring>(TOKENS.Keyring);
    t.is(kr.decrypt((await hub.db('pa_ca').first()).key_enc, 'pa_ca.key_enc'), keyPem);
  } finally {
    if (!closed) await hub.close();
    await dropDatabase(hub.databaseUrl);
  }
});

/** The restarted hub reuses the database, so nothing drops it: do it here. */
async function dropDatabase(url: string): Promise<void> {
  if (url.startsWith('sqlite:')) {
    fs.rmSync(path.dirname(url.slice('sqlite:'.length)), { recursive: true, force: true });
    return;
  }
  const name = url.slice(url.lastIndexOf('/') + 1);
  if (!/^[a-z0-9_]+$/.test(name)) return;
  const a = knexFactory({ client: 'pg', connection: url.replace(/\/[^/]*$/, '/postgres'), pool: { min: 0, max: 1 } });
  try {
    await a.raw(`drop database if exists ${name} with (force)`);
  } finally {
    await a.destroy();
  }
}
