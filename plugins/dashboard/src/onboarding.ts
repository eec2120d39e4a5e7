import type { DependencyContainer } from 'tsyringe';
import type { Logger } from 'pino';
import {
  TOKENS, ValidationError, conflict, notFound, newId, PayhubError,
  type BankAdapter, type BankContractStore, type BankCredentials, type Clock, type Db, type FieldError, type Keyring, type MerchantsService, type PaymentsService, type Runtime,
} from '@payhub/core';
import type { Knex } from 'knex';
import type { DashboardOptions } from './options';
import type { Mailer } from './mail';
import { renderMail } from './mails';
import { createUser, issueToken, type UserRow } from './auth';
import type { Lang } from './i18n';

export interface ApplicationRow {
  id: string; merchant_id: string; shop_name: string; site_url: string; contact_email: string; legal: string;
  status: string; lang: string; bank_id: string | null; bank_details: string | null;
  registered_at: string | null; production_requested_at: string | null; created_at: string; updated_at: string;
}
export interface ContractRow {
  id: string; merchant_id: string; bank_id: string; bank_merchant_id: string; terminal_id: string; credentials_enc: string;
  check_status: string; check_message: string | null; checked_at: string | null; recorded_by: string; created_at: string; superseded_at: string | null;
}
export interface Legal { name: string; tax_id: string; address: string }

const EMAIL_RE = /^[^\s@<>()",;:]{1,64}@[^\s@<>()",;:]{1,190}$/;

function str(v: unknown, field: string, max: number, errors: FieldError[], required = true): string {
  if (v === undefined || v === null || v === '') {
    if (required) errors.push({ field, message: 'is required' });
    return '';
  }
  if (typeof v !== 'string') {
    errors.push({ field, message: 'must be a string' });
    return '';
  }
  const s = v.trim();
  if (s.length > max) errors.push({ field, message: `must be at most ${max} characters` });
  if (required && !s) errors.push({ field, message: 'is required' });
  return s;
}

function parseLegal(v: unknown, errors: FieldError[], required: boolean): Legal {
  const o = (v && typeof v === 'object' && !Array.isArray(v) ? v : {}) as Record<string, unknown>;
  if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v))) errors.push({ field: 'legal', message: 'must be an object' });
  const taxField = o.inn !== undefined && o.tax_id === undefined ? 'legal.inn' : 'legal.tax_id';
  const tax = str(o.tax_id ?? o.inn, taxField, 40, errors, required);
  if (tax && !/^[0-9A-Za-z-]{5,40}$/.test(tax)) errors.push({ field: taxField, message: 'must be 5 to 40 letters or digits' });
  return { name: str(o.name, 'legal.name', 300, errors, required), tax_id: tax, address: str(o.address, 'legal.address', 500, errors, required) };
}

/**
 * Onboarding: applications (test merchants with a time limit), registration, bank choice, contracts, connection
 * check and the switch to production. Every step is an onboarding event (who, when) plus a core audit row.
 */
/**
 * TOKENS.BankContracts: the credentials of the merchant's current, connection-checked contract with that bank, so
 * payment methods call the bank with the recorded terminal (MethodContext.bankCredentials).
 */
export class ContractCredentials implements BankContractStore {
  constructor(private readonly db: Knex, private readonly keyring: Keyring) {}

  async credentials(merchantId: string, bankAdapterId: string): Promise<BankCredentials | null> {
    const c = await this.db<ContractRow>('dashboard_contracts')
      .where({ merchant_id: merchantId, bank_id: bankAdapterId, check_status: 'ok' }).whereNull('superseded_at')
      .orderBy('created_at', 'desc').first();
    return c ? (JSON.parse(this.keyring.decrypt(c.credentials_enc, `dashboard:contract:${c.id}`)) as BankCredentials) : null;
  }
}

export class Onboarding {
  readonly db: Db;
  readonly clock: Clock;
  readonly keyring: Keyring;
  readonly merchants: MerchantsService;
  readonly payments: PaymentsService;
  readonly runtime: Runtime;

  constructor(private readonly c: DependencyContainer, readonly o: DashboardOptions, readonly mailer: Mailer, private readonly logger: Logger) {
    this.db = c.resolve(TOKENS.Db);
    this.clock = c.resolve(TOKENS.Clock);
    this.keyring = c.resolve(TOKENS.Keyring);
    this.merchants = c.resolve(TOKENS.Merchants);
    this.payments = c.resolve(TOKENS.Payments);
    this.runtime = c.resolve(TOKENS.Runtime);
  }

  now(): string {
    return this.clock.now().toISOString();
  }

  banks(): BankAdapter[] {
    return this.c.isRegistered(TOKENS.BankAdapter, true) ? this.c.resolveAll(TOKENS.BankAdapter) : [];
  }

  bank(id: string): BankAdapter | undefined {
    return this.banks().find((b) => b.id === id);
  }

  async event(merchantId: string, actor: string, action: string, data: Record<string, unknown> = {}): Promise<void> {
    await this.db('dashboard_onboarding_events').insert({ merchant_id: merchantId, actor, action, data: JSON.stringify(data), at: this.now() });
    await this.payments.audit({ merchantId, actor, action: `onboarding.${action}`, data });
  }

  async events(merchantId: string) {
    const rows = await this.db('dashboard_onboarding_events').where({ merchant_id: merchantId }).orderBy('id', 'asc');
    return rows.map((r: Record<string, unknown>) => ({ action: r.action as string, actor: r.actor as string, at: r.at as string, data: JSON.parse(String(r.data)) as Record<string, unknown> }));
  }

  /** Never lets a mail failure undo a completed step; the failure is an event of its own. */
  async mail(merchantId: string | null, to: string, name: Parameters<typeof renderMail>[0], lang: Lang, p: Record<string, string>): Promise<boolean> {
    const m = renderMail(name, lang, p);
    try {
      await this.mailer.send({ to, ...m });
      return true;
    } catch (e) {
      this.logger.error({ mail: { subject: m.subject }, err: (e as Error).message }, 'mail not sent');
      if (merchantId) await this.event(merchantId, 'system', 'mail_failed', { subject: m.subject });
      return false;
    }
  }

  link(path: string): string {
    return `${this.runtime.baseUrl()}${path}`;
  }

  async application(merchantId: string): Promise<ApplicationRow | null> {
    return (await this.db<ApplicationRow>('dashboard_applications').where({ merchant_id: merchantId }).first()) ?? null;
  }

  async applicationById(id: string): Promise<ApplicationRow> {
    const a = await this.db<ApplicationRow>('dashboard_applications').where({ id }).first();
    if (!a) throw notFound('Application', 'application_not_found');
    return a;
  }

  validateApplication(b: Record<string, unknown>): { shop: string; site: string; email: string; legal: Legal; lang: Lang } {
    const errors: FieldError[] = [];
    const shop = str(b.shop_name, 'shop_name', 200, errors);
    const site = str(b.site_url, 'site_url', 500, errors);
    if (site) {
      try {
        const u = new URL(site);
        if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error();
      } catch {
        errors.push({ field: 'site_url', message: 'must be an http(s) URL' });
      }
    }
    const email = str(b.contact_email, 'contact_email', 254, errors).toLowerCase();
    if (email && !EMAIL_RE.test(email)) errors.push({ field: 'contact_email', message: 'must be an e-mail address' });
    const legal = parseLegal(b.legal, errors, true);
    const lang = b.lang === 'ru' || b.lang === 'en' ? b.lang : this.o.defaultLang;
    if (errors.length) throw new ValidationError(errors);
    return { shop, site, email, legal, lang };
  }

  /** A public application: a test merchant whose test key stops after testPeriodHours, its owner user and a mail. */
  async apply(b: Record<string, unknown>, opts: { password?: string } = {}) {
    const v = this.validateApplication(b);
    if (await this.db('dashboard_users').where({ email: v.email }).first()) {
      throw conflict('email_taken', 'An account with this e-mail already exists; sign in to the dashboard');
    }
    const expires = new Date(this.clock.now().getTime() + this.o.testPeriodHours * 3600_000).toISOString();
    const keys = await this.merchants.create({ name: v.shop, mode: 'test', testExpiresAt: expires, directCardInput: false }, 'applicant');
    const now = this.now();
    const app: ApplicationRow = {
      id: newId('app'), merchant_id: keys.id, shop_name: v.shop, site_url: v.site, contact_email: v.email, legal: JSON.stringify(v.legal),
      status: 'test', lang: v.lang, bank_id: null, bank_details: null, registered_at: null, production_requested_at: null, created_at: now, updated_at: now,
    };
    await this.db('dashboard_applications').insert(app);
    let user: UserRow;
    try {
      user = await createUser(this.db, this.clock, { email: v.email, name: v.legal.name, role: 'owner', merchantId: keys.id, password: opts.password ?? null, lang: v.lang });
    } catch (e) {
      throw conflict('email_taken', 'An account with this e-mail already exists; sign in to the dashboard');
    }
    await this.event(keys.id, 'applicant', 'application_submitted', { application_id: app.id, test_expires_at: expires });
    const link = opts.password ? this.link('/dashboard/login') : this.link(`/dashboard/password/set?token=${await issueToken(this.db, this.clock, user.id, 'set_password', Math.max(this.o.testPeriodHours, 72))}`);
    await this.mail(keys.id, v.email, 'application', v.lang, {
      shop: v.shop, merchantId: keys.id, keyLast4: keys.test_secret_key.slice(-4), expires: expires.replace('T', ' ').slice(0, 16), link,
    });
    return { application: app, keys, testExpiresAt: expires, user };
  }

  /** Completing the profile lifts the test-mode time limit. Idempotent. */
  async register(merchantId: string, b: Record<string, unknown>, actor: string) {
    const app = await this.application(merchantId);
    if (!app) throw notFound('Application', 'application_not_found');
    const errors: FieldError[] = [];
    const current = JSON.parse(app.legal) as Legal;
    const given = b.legal === undefined ? {} : parseLegal(b.legal, errors, false);
    const legal: Legal = { ...current, ...Object.fromEntries(Object.entries(given).filter(([, x]) => x)) };
    for (const k of ['name', 'tax_id', 'address'] as const) if (!legal[k]) errors.push({ field: `legal.${k}`, message: 'is required' });
    if (errors.length) throw new ValidationError(errors);
    if (app.registered_at) return this.state(merchantId);
    const now = this.now();
    await this.db('dashboard_applications').where({ id: app.id }).update({
      legal: JSON.stringify(legal), status: app.status === 'test' ? 'registered' : app.status, registered_at: now, updated_at: now,
    });
    await this.merchants.update(merchantId, { testExpiresAt: null }, actor);
    await this.event(merchantId, actor, 'registered');
    await this.mail(merchantId, app.contact_email, 'registered', app.lang as Lang, { shop: app.shop_name, link: this.link('/dashboard/onboarding') });
    return this.state(merchantId);
  }

  async chooseBank(merchantId: string, b: Record<string, unknown>, actor: string) {
    const app = await this.application(merchantId);
    if (!app) throw notFound('Application', 'application_not_found');
    if (app.status === 'live') throw conflict('already_live', 'The merchant is already in production');
    const bankId = typeof b.bank_id === 'string' ? b.bank_id : '';
    const bank = this.bank(bankId);
    if (!bank) throw new ValidationError([{ field: 'bank_id', message: 'unknown bank' }]);
    const details: Record<string, string> = {};
    const raw = b.details ?? {};
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ValidationError([{ field: 'details', message: 'must be an object' }]);
    const entries = Object.entries(raw as Record<string, unknown>);
    if (entries.length > 20) throw new ValidationError([{ field: 'details', message: 'at most 20 fields' }]);
    for (const [k, val] of entries) {
      if (!/^[a-z][a-z0-9_]{0,40}$/i.test(k) || typeof val !== 'string' || val.length > 500) throw new ValidationError([{ field: `details.${k}`, message: 'must be a string of at most 500 characters' }]);
      // Secrets are issued by the bank and entered by the operator, never sent by the merchant.
      if (bank.contract?.fields.some((f) => f.name === k && f.secret)) throw new ValidationError([{ field: `details.${k}`, message: 'secret fields are entered by the operator' }]);
      details[k] = val;
    }
    const now = this.now();
    await this.db('dashboard_applications').where({ id: app.id }).update({
      bank_id: bank.id, bank_details: JSON.stringify(details), status: app.status === 'production_requested' ? app.status : 'bank_chosen', updated_at: now,
    });
    await this.event(merchantId, actor, 'bank_chosen', { bank_id: bank.id, fields: Object.keys(details) });
    const lang = app.lang as Lang;
    await this.mail(merchantId, app.contact_email, 'bank', lang, {
      shop: app.shop_name, bank: bank.displayName,
      documents: (bank.contract?.documents ?? []).map((d) => `- ${d}`).join('\n') || '-',
      fields: (bank.contract?.fields ?? []).map((f) => `- ${f.label}${f.required ? ' *' : ''}`).join('\n') || '-',
      link: this.link('/dashboard/onboarding'),
    });
    return this.state(merchantId);
  }

  async requestProduction(merchantId: string, actor: string) {
    const app = await this.application(merchantId);
    if (!app) throw notFound('Application', 'application_not_found');
    if (app.status === 'live') throw conflict('already_live', 'The merchant is already in production');
    if (!app.registered_at) throw conflict('registration_required', 'Complete the registration before requesting production');
    if (!app.bank_id) throw conflict('bank_not_chosen', 'Choose a servicing bank before requesting production');
    const now = this.now();
    await this.db('dashboard_applications').where({ id: app.id }).update({ status: 'production_requested', production_requested_at: now, updated_at: now });
    await this.event(merchantId, actor, 'production_requested', { bank_id: app.bank_id });
    await this.mail(merchantId, this.o.operatorEmail, 'productionRequested', this.o.defaultLang, {
      shop: app.shop_name, merchantId, bank: this.bank(app.bank_id)?.displayName ?? app.bank_id, link: this.link(`/dashboard/operator/merchants/${merchantId}`),
    });
    return this.state(merchantId);
  }

  async contract(merchantId: string): Promise<ContractRow | null> {
    return (await this.db<ContractRow>('dashboard_contracts').where({ merchant_id: merchantId }).whereNull('superseded_at').orderBy('created_at', 'desc').first()) ?? null;
  }

  /** The operator records the bank contract; credentials are stored encrypted (never returned). */
  async recordContract(merchantId: string, b: Record<string, unknown>, actor: string) {
    const m = await this.merchants.get(merchantId);
    if (!m) throw notFound('Merchant', 'merchant_not_found');
    const errors: FieldError[] = [];
    const bankId = typeof b.bank_id === 'string' ? b.bank_id : '';
    const bank = this.bank(bankId);
    if (!bank) errors.push({ field: 'bank_id', message: 'unknown bank' });
    const bankMerchantId = str(b.bank_merchant_id, 'bank_merchant_id', 120, errors);
    const terminalId = str(b.terminal_id, 'terminal_id', 120, errors);
    const rawCreds = b.credentials ?? {};
    const creds: Record<string, string> = {};
    if (typeof rawCreds !== 'object' || rawCreds === null || Array.isArray(rawCreds)) errors.push({ field: 'credentials', message: 'must be an object' });
    else for (const [k, v] of Object.entries(rawCreds as Record<string, unknown>)) {
      if (v === '' || v === undefined) continue;
      if (typeof v !== 'string' || v.length > 2000 || !/^[A-Za-z][A-Za-z0-9_]{0,40}$/.test(k)) errors.push({ field: `credentials.${k}`, message: 'must be a string' });
      else creds[k] = v;
    }
    const all: Record<string, string> = { ...creds, merchantId: bankMerchantId, terminalId };
    for (const f of bank?.contract?.fields ?? []) if (f.required && !all[f.name]) errors.push({ field: f.name === 'merchantId' ? 'bank_merchant_id' : f.name === 'terminalId' ? 'terminal_id' : `credentials.${f.name}`, message: 'is required' });
    if (errors.length) throw new ValidationError(errors);
    const id = newId('ctr');
    const now = this.now();
    await this.db.transaction(async (trx) => {
      await trx('dashboard_contracts').where({ merchant_id: merchantId }).whereNull('superseded_at').update({ superseded_at: now });
      await trx('dashboard_contracts').insert({
        id, merchant_id: merchantId, bank_id: bank!.id, bank_merchant_id: bankMerchantId, terminal_id: terminalId,
        credentials_enc: this.keyring.encrypt(JSON.stringify(all), `dashboard:contract:${id}`), check_status: 'unchecked', check_message: null,
        checked_at: null, recorded_by: actor, created_at: now, superseded_at: null,
      });
    });
    await this.event(merchantId, actor, 'contract_recorded', { contract_id: id, bank_id: bank!.id, terminal_id: terminalId });
    return this.contractJson((await this.contract(merchantId))!);
  }

  contractJson(c: ContractRow) {
    return {
      id: c.id, bank_id: c.bank_id, bank_merchant_id: c.bank_merchant_id, terminal_id: c.terminal_id, check_status: c.check_status,
      check_message: c.check_message, checked_at: c.checked_at, recorded_by: c.recorded_by, created_at: c.created_at,
    };
  }

  /** Runs the adapter's connection check with the contract's credentials (if the adapter has one). */
  async checkConnection(merchantId: string, actor: string) {
    const c = await this.contract(merchantId);
    if (!c) throw conflict('contract_required', 'Record the bank contract first');
    const bank = this.bank(c.bank_id);
    let r: { ok: boolean; message?: string };
    if (!bank) r = { ok: false, message: 'the bank adapter is not installed' };
    else if (!bank.checkConnection) r = { ok: true, message: 'the adapter has no connection check' };
    else {
      const creds = JSON.parse(this.keyring.decrypt(c.credentials_enc, `dashboard:contract:${c.id}`)) as BankCredentials;
      try {
        r = await bank.checkConnection(creds);
      } catch (e) {
        r = { ok: false, message: 'the connection check failed' };
        this.logger.warn({ bank: c.bank_id, err: (e as Error).name }, 'bank connection check threw');
      }
    }
    const msg = (r.message ?? '').slice(0, 500) || null;
    await this.db('dashboard_contracts').where({ id: c.id }).update({ check_status: r.ok ? 'ok' : 'failed', check_message: msg, checked_at: this.now() });
    await this.event(merchantId, actor, 'connection_checked', { contract_id: c.id, ok: r.ok, message: msg });
    return this.contractJson((await this.contract(merchantId))!);
  }

  /** Switches to production: only with a contract whose connection check passed. Returns the live key (once). */
  async approve(merchantId: string, actor: string): Promise<{ live_secret_key: string | null; merchant: unknown }> {
    const m = await this.merchants.get(merchantId);
    if (!m) throw notFound('Merchant', 'merchant_not_found');
    if (m.mode === 'live') throw conflict('already_live', 'The merchant is already in production');
    let c = await this.contract(merchantId);
    if (!c) throw conflict('contract_required', 'A merchant goes to production only with a recorded bank contract');
    if (c.check_status !== 'ok') {
      await this.checkConnection(merchantId, actor);
      c = (await this.contract(merchantId))!;
      if (c.check_status !== 'ok') throw new PayhubError('connection_check_failed', `The connection check with the bank failed${c.check_message ? `: ${c.check_message}` : ''}`, { status: 409 });
    }
    await this.merchants.update(merchantId, { bankAdapter: c.bank_id, testExpiresAt: null }, actor);
    const { liveKey } = await this.merchants.switchMode(merchantId, 'live', actor);
    const app = await this.application(merchantId);
    if (app) await this.db('dashboard_applications').where({ id: app.id }).update({ status: 'live', updated_at: this.now() });
    await this.event(merchantId, actor, 'switched_to_production', { contract_id: c.id, bank_id: c.bank_id });
    const to = app?.contact_email ?? (await this.db('dashboard_users').where({ merchant_id: merchantId, role: 'owner' }).first())?.email;
    if (to) await this.mail(merchantId, to, 'live', (app?.lang ?? this.o.defaultLang) as Lang, { shop: m.name, bank: this.bank(c.bank_id)?.displayName ?? c.bank_id, link: this.link('/dashboard/settings') });
    return { live_secret_key: liveKey ?? null, merchant: await this.merchants.get(merchantId) };
  }

  /** Where a merchant stands (no secrets). */
  async state(merchantId: string) {
    const [m, app, c] = await Promise.all([this.merchants.get(merchantId), this.application(merchantId), this.contract(merchantId)]);
    if (!m) throw notFound('Merchant', 'merchant_not_found');
    return {
      merchant_id: m.id, name: m.name, mode: m.mode, test_expires_at: m.testExpiresAt, bank_adapter: m.bankAdapter,
      application: app ? {
        id: app.id, status: app.status, shop_name: app.shop_name, site_url: app.site_url, contact_email: app.contact_email,
        legal: JSON.parse(app.legal) as Legal, bank_id: app.bank_id, bank_details: app.bank_details ? JSON.parse(app.bank_details) : null,
        registered_at: app.registered_at, production_requested_at: app.production_requested_at, created_at: app.created_at,
      } : null,
      contract: c ? this.contractJson(c) : null,
    };
  }
}
