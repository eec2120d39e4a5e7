/**
 * @payhub/plugin-dashboard: merchant onboarding (public applications with a time-limited test mode, registration,
 * bank choice, contracts, connection check, switch to production), transactional e-mail, and the web dashboard for
 * merchants and the operator under /dashboard. See README.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { definePlugin, TOKENS, type RegisterContext } from '@payhub/core';
import { optionsSchema, type DashboardOptions } from './options';
import { migrations } from './migrations';
import { openapi } from './openapi';
import { createMailer, type Mailer } from './mail';
import { ContractCredentials, Onboarding } from './onboarding';
import { Sessions, Throttle, createUser, randomPassword } from './auth';
import { mountApi } from './api';
import { mountWeb } from './web';

export type { DashboardOptions } from './options';
export type { Mailer, MailMessage } from './mail';

interface State { mailer: Mailer | null; onboarding: Onboarding | null }
const STATE = Symbol.for('payhub.dashboard.state');

function state(c: RegisterContext<DashboardOptions>['container']): State {
  return c.resolve<State>(STATE);
}

export default definePlugin<DashboardOptions>({
  name: 'dashboard',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'dashboard',
  description: 'Merchant onboarding, e-mail, and the web dashboard for merchants and the operator',
  options: optionsSchema,
  migrations,
  openapi,

  register(ctx) {
    ctx.container.register(STATE, { useValue: { mailer: null, onboarding: null } satisfies State });
    ctx.provide(TOKENS.BankContracts, { useFactory: (c) => new ContractCredentials(c.resolve(TOKENS.Db), c.resolve(TOKENS.Keyring)) });
  },

  routes(router, ctx) {
    const st = state(ctx.container);
    st.mailer = createMailer(ctx.options, ctx.config.rootDir, ctx.logger);
    const ob = new Onboarding(ctx.container, ctx.options, st.mailer, ctx.logger);
    st.onboarding = ob;
    const throttle = new Throttle(ob.db, ob.clock, ob.keyring);
    const sessions = new Sessions(ob.db, ob.clock, ctx.options.sessionHours);
    mountApi(router, ctx, ob, throttle);
    mountWeb(router, ctx, ob, sessions, throttle);
  },

  /** Creates the operator account on first start; its one-time password is logged once and written to a 0600 file. */
  async onReady(ctx) {
    const db = ctx.db;
    if (await db('dashboard_users').where({ role: 'operator' }).first()) return;
    const clock = ctx.container.resolve(TOKENS.Clock);
    const password = randomPassword();
    await createUser(db, clock, { email: ctx.options.operatorEmail, name: 'Operator', role: 'operator', merchantId: null, password, mustChange: true, lang: ctx.options.defaultLang });
    const file = path.resolve(ctx.config.rootDir, ctx.options.dataDir, 'operator-password');
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(file, `${ctx.options.operatorEmail} ${password}\n`, { mode: 0o600 });
      fs.chmodSync(file, 0o600);
    } catch (e) {
      ctx.logger.warn({ err: (e as Error).message }, 'could not write the operator password file');
    }
    // The password is printed to the console once for whoever started the hub; log lines never carry it.
    ctx.logger.warn({ operator: ctx.options.operatorEmail, file }, 'dashboard operator account created; its one-time password is in the file and must be changed at the first sign-in');
    if ((ctx.role ?? 'server') === 'server') process.stdout.write(`Dashboard operator: ${ctx.options.operatorEmail}, one-time password ${password} (also in ${file})\n`);
  },

  async onClose(ctx) {
    state(ctx.container).mailer?.close();
  },
});
