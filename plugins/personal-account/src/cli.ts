/**
 * CLI: `payhub accounts …` and `payhub certs …` (operators, on the server, with the hub's database and keys).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PayhubError, type LifecycleContext, type PluginCommand } from '@payhub/core';
import type { PersonalAccountOptions } from './options';
import { serviceOf } from './state';
import { accountJson, certificateJson, providerJson, type AccountsService } from './service';

type Ctx = LifecycleContext<PersonalAccountOptions>;

function flags(args: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) m.set(a.slice(2, eq), a.slice(eq + 1));
    else if (args[i + 1] !== undefined && !args[i + 1]!.startsWith('--')) m.set(a.slice(2), args[++i]!);
    else m.set(a.slice(2), 'true');
  }
  return m;
}

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

async function service(ctx: Ctx): Promise<AccountsService> {
  return serviceOf(ctx.container, ctx.options);
}

async function guarded(fn: () => Promise<number>): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof PayhubError) {
      err(`${e.code}: ${e.message}${e.fields.length ? ` (${e.fields.map((f) => `${f.field}: ${f.message}`).join('; ')})` : ''}`);
      return 1;
    }
    throw e;
  }
}

const ACCOUNTS_USAGE = `usage:
  payhub accounts providers-create --name NAME --bank-adapter ID --currencies RUB,USD
  payhub accounts providers
  payhub accounts create --provider PROVIDER_ID --holder "NAME" --number EXTERNAL_ACCOUNT_NUMBER
  payhub accounts show --account ACCOUNT_ID
  payhub accounts close --account ACCOUNT_ID`;

const CERTS_USAGE = `usage:
  payhub certs issue --account ACCOUNT_ID --csr request.pem [--out cert.pem] [--days N]
  payhub certs issue --account ACCOUNT_ID --p12 out.p12 (--password-file FILE | env PAYHUB_P12_PASSWORD) [--days N]
  payhub certs list --account ACCOUNT_ID
  payhub certs revoke --serial HEX --reason key_compromise|superseded|affiliation_changed|cessation_of_operation|privilege_withdrawn|unspecified
  payhub certs ca [--out ca.pem]
  payhub certs crl [--out crl.pem]`;

export const commands: PluginCommand<PersonalAccountOptions>[] = [
  {
    name: 'keys',
    description: 'keys rotate: re-encrypt the CA key and account numbers under the current master key',
    run: (args, ctx) => guarded(async () => {
      if (args[0] !== 'rotate') {
        err('usage: payhub keys rotate');
        return 2;
      }
      const r = await (await service(ctx)).rewrapSecrets();
      out(`personal-account: rewrapped=${r.rewrapped} already_current=${r.current}`);
      return 0;
    }),
  },
  {
    name: 'accounts',
    description: 'Personal accounts: providers-create, providers, create, show, close',
    run: (args, ctx) => guarded(async () => {
      const f = flags(args.slice(1));
      const svc = await service(ctx);
      switch (args[0]) {
        case 'providers-create':
          out(JSON.stringify(providerJson(await svc.createProvider({
            name: f.get('name'), bank_adapter: f.get('bank-adapter'), currencies: (f.get('currencies') ?? '').split(',').filter(Boolean),
          })), null, 2));
          return 0;
        case 'providers':
          out(JSON.stringify((await svc.listProviders()).map(providerJson), null, 2));
          return 0;
        case 'create':
          out(JSON.stringify(accountJson(await svc.createAccount({
            provider_id: f.get('provider'), holder: f.get('holder'), external_account_number: f.get('number'),
          })), null, 2));
          return 0;
        case 'show':
          out(JSON.stringify(accountJson(await svc.getAccount(f.get('account') ?? '')), null, 2));
          return 0;
        case 'close':
          out(JSON.stringify(accountJson(await svc.closeAccount(f.get('account') ?? '')), null, 2));
          return 0;
        default:
          err(ACCOUNTS_USAGE);
          return 2;
      }
    }),
  },
  {
    name: 'certs',
    description: 'Account certificates: issue (CSR or PKCS#12), list, revoke, ca, crl',
    run: (args, ctx) => guarded(async () => {
      const f = flags(args.slice(1));
      const svc = await service(ctx);
      const days = f.has('days') ? Number(f.get('days')) : undefined;
      switch (args[0]) {
        case 'issue': {
          const account = f.get('account') ?? '';
          if (f.has('csr') === f.has('p12')) {
            err(CERTS_USAGE);
            return 2;
          }
          if (f.has('password')) {
            err('certs issue: --password on the command line is visible to other users; use --password-file or PAYHUB_P12_PASSWORD');
            return 2;
          }
          if (f.has('csr')) {
            const r = await svc.issue(account, { csr: fs.readFileSync(path.resolve(f.get('csr')!), 'utf8'), ...(days ? { lifetime_days: days } : {}) });
            if (f.has('out')) fs.writeFileSync(path.resolve(f.get('out')!), r.row.cert_pem);
            else out(r.row.cert_pem);
            err(`issued serial ${r.row.serial} for ${account}, valid until ${r.row.not_after}`);
            return 0;
          }
          const password = f.has('password-file')
            ? fs.readFileSync(path.resolve(f.get('password-file')!), 'utf8').replace(/\r?\n$/, '')
            : process.env.PAYHUB_P12_PASSWORD;
          if (!password) {
            err('certs issue --p12: give the bundle password with --password-file FILE or PAYHUB_P12_PASSWORD');
            return 2;
          }
          const r = await svc.issue(account, { password, ...(days ? { lifetime_days: days } : {}) });
          fs.writeFileSync(path.resolve(f.get('p12')!), r.pkcs12!, { mode: 0o600 });
          err(`issued serial ${r.row.serial} for ${account}, valid until ${r.row.not_after}; bundle written to ${f.get('p12')}`);
          return 0;
        }
        case 'list':
          out(JSON.stringify((await svc.listCertificates(f.get('account') ?? '')).map((c) => ({ ...certificateJson(c), certificate: undefined })), null, 2));
          return 0;
        case 'revoke': {
          const row = await svc.revoke(f.get('serial') ?? '', f.get('reason') ?? 'unspecified');
          err(`certificate ${row.serial} revoked (${row.revocation_reason}) at ${row.revoked_at}`);
          return 0;
        }
        case 'ca':
        case 'crl': {
          const pem = args[0] === 'ca' ? await svc.caPem() : await svc.crlPem();
          if (f.has('out')) fs.writeFileSync(path.resolve(f.get('out')!), pem);
          else out(pem.trimEnd());
          return 0;
        }
        default:
          err(CERTS_USAGE);
          return 2;
      }
    }),
  },
];
