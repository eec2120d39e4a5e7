/**
 * Accounts, certificates and the CA of the personal-account plugin, over its own tables (pa_*).
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { DependencyContainer } from 'tsyringe';
import {
  TOKENS, PayhubError, ValidationError, isKnownCurrency, isUniqueViolation, newId, notFound, conflict,
  type BankAdapter, type Clock, type Keyring, type OrderView,
} from '@payhub/core';
import {
  PkiError, buildCrl, buildPkcs12, createCa, generateRsaKeyPair, issueClientCertificate, loadCa, normalizeSerial,
  publicKeyFromCsr, REVOCATION_REASONS, signingString, toPem, verifyClientCertificate, verifySignature,
  type Ca, type RevocationReason, type SignatureAlgorithm, type VerifiedCertificate,
} from './pki';
import type { PersonalAccountOptions } from './options';

export interface ProviderRow { id: string; name: string; bank_adapter: string; currencies: string; created_at: string }
export interface AccountRow {
  id: string; provider_id: string; holder: string; account_number_enc: string; account_number_fp: string;
  account_last4: string; status: 'active' | 'closed'; created_at: string; updated_at: string;
}
export interface CertificateRow {
  serial: string; account_id: string; fingerprint256: string; cert_pem: string; not_before: string; not_after: string;
  status: 'active' | 'revoked'; issued_via: 'csr' | 'pkcs12'; revoked_at: string | null; revocation_reason: string | null; created_at: string;
}

const CA_ID = 'default';
const CA_AAD = 'pa_ca.key_enc';
const ACCOUNT_AAD = (id: string) => `pa_accounts.account_number_enc:${id}`;

export function providerJson(p: ProviderRow) {
  return { id: p.id, object: 'account_provider', name: p.name, bank_adapter: p.bank_adapter, currencies: JSON.parse(p.currencies) as string[], created_at: p.created_at };
}
export function accountJson(a: AccountRow) {
  return {
    id: a.id, object: 'personal_account', provider_id: a.provider_id, holder: a.holder,
    account_number_last4: a.account_last4, status: a.status, created_at: a.created_at, updated_at: a.updated_at,
  };
}
export function certificateJson(c: CertificateRow) {
  return {
    serial: c.serial, object: 'account_certificate', account_id: c.account_id, status: c.status, issued_via: c.issued_via,
    fingerprint_sha256: c.fingerprint256, not_before: c.not_before, not_after: c.not_after,
    revoked_at: c.revoked_at, revocation_reason: c.revocation_reason, certificate: c.cert_pem, created_at: c.created_at,
  };
}

/** Turns a PKI refusal into the 422 the API shows (field `certificate`, stable code). */
export function refusal(e: unknown, field = 'certificate'): never {
  if (e instanceof PkiError) throw new ValidationError([{ field, message: e.message }], e.message, e.code);
  throw e;
}

const str = (v: unknown, field: string, max: number, re?: RegExp): string => {
  if (typeof v !== 'string' || !v.trim()) throw new ValidationError([{ field, message: 'is required' }]);
  const s = v.trim();
  if (s.length > max) throw new ValidationError([{ field, message: `must be at most ${max} characters` }]);
  if (re && !re.test(s)) throw new ValidationError([{ field, message: 'has an invalid format' }]);
  return s;
};
function onlyFields(body: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw new ValidationError([{ field: k, message: 'unknown field' }]);
}

export interface Verified {
  cert: VerifiedCertificate;
  row: CertificateRow;
  account: AccountRow;
  provider: ProviderRow;
}

export class AccountsService {
  private ca: Ca | null = null;
  private crlCache: { key: string; pem: string } | null = null;

  constructor(
    private readonly db: Knex,
    private readonly container: DependencyContainer,
    private readonly options: PersonalAccountOptions,
  ) {}

  get keyring(): Keyring { return this.container.resolve(TOKENS.Keyring); }
  get clock(): Clock { return this.container.resolve(TOKENS.Clock); }
  private now(): string { return this.clock.now().toISOString(); }

  // ------------------------------------------------------------------------------------------------ CA

  /** Loads the CA from pa_ca, creating or importing it on first start. Idempotent and safe across processes. */
  async ensureCa(): Promise<Ca> {
    if (this.ca) return this.ca;
    let row = await this.db('pa_ca').where({ id: CA_ID }).first();
    if (!row) {
      const material = this.options.caCertPem && this.options.caKeyPem
        ? { certPem: this.options.caCertPem, keyPem: crypto.createPrivateKey(this.options.caKeyPem).export({ type: 'pkcs8', format: 'pem' }) as string }
        : createCa({ commonName: this.options.caCommonName, keyBits: this.options.caKeyBits, now: this.clock.now(), lifetimeDays: this.options.caLifetimeDays });
      const ca = loadCa(material.certPem, material.keyPem);
      try {
        await this.db('pa_ca').insert({
          id: CA_ID, cert_pem: ca.certPem, key_enc: this.keyring.encrypt(material.keyPem, CA_AAD),
          fingerprint256: ca.x509.fingerprint256, created_at: this.now(),
        });
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
      row = await this.db('pa_ca').where({ id: CA_ID }).first();
    }
    const ca = loadCa(row.cert_pem, this.keyring.decrypt(row.key_enc, CA_AAD));
    if (this.options.caCertPem && new crypto.X509Certificate(this.options.caCertPem).fingerprint256 !== ca.x509.fingerprint256) {
      throw new PayhubError('pa_ca_mismatch', 'options.caCertPem differs from the CA already stored in pa_ca (CA rotation is not supported)');
    }
    this.ca = ca;
    return ca;
  }

  async caPem(): Promise<string> {
    return (await this.ensureCa()).certPem;
  }

  /** The current CRL (PEM), rebuilt when a revocation happened or half its validity has passed. */
  async crlPem(): Promise<string> {
    const ca = await this.ensureCa();
    const revoked = await this.db<CertificateRow>('pa_certificates').where({ status: 'revoked' }).orderBy('serial');
    const now = this.clock.now();
    const half = Math.floor(now.getTime() / (this.options.crlValiditySeconds * 500));
    const key = `${revoked.length}:${revoked.reduce((m, r) => (r.revoked_at! > m ? r.revoked_at! : m), '')}:${half}`;
    if (this.crlCache?.key === key) return this.crlCache.pem;
    const der = buildCrl(ca, revoked.map((r) => ({
      serial: r.serial, revokedAt: new Date(r.revoked_at!), reason: (r.revocation_reason ?? 'unspecified') as RevocationReason,
    })), {
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + this.options.crlValiditySeconds * 1000),
      // Monotonic: milliseconds of the hub clock when it was built.
      crlNumber: BigInt(now.getTime()),
    });
    const pem = toPem('X509 CRL', der);
    this.crlCache = { key, pem };
    return pem;
  }

  // ------------------------------------------------------------------------------------------------ providers and accounts

  async createProvider(body: Record<string, unknown>): Promise<ProviderRow> {
    onlyFields(body, ['name', 'bank_adapter', 'currencies']);
    const name = str(body.name, 'name', 200);
    const adapter = str(body.bank_adapter, 'bank_adapter', 100);
    const known = this.container.resolveAll<BankAdapter>(TOKENS.BankAdapter).map((a) => a.id);
    if (!known.includes(adapter)) throw new ValidationError([{ field: 'bank_adapter', message: `unknown bank adapter (known: ${known.join(', ') || 'none'})` }]);
    const cur = body.currencies;
    if (!Array.isArray(cur) || !cur.length || cur.length > 50) throw new ValidationError([{ field: 'currencies', message: 'must be a non-empty list of ISO 4217 codes' }]);
    cur.forEach((c, i) => {
      if (typeof c !== 'string' || !isKnownCurrency(c)) throw new ValidationError([{ field: `currencies.${i}`, message: 'unknown currency' }]);
    });
    const row: ProviderRow = { id: newId('pap'), name, bank_adapter: adapter, currencies: JSON.stringify([...new Set(cur as string[])]), created_at: this.now() };
    await this.db('pa_providers').insert(row);
    return row;
  }

  async listProviders(): Promise<ProviderRow[]> {
    return this.db<ProviderRow>('pa_providers').orderBy('created_at');
  }

  async createAccount(body: Record<string, unknown>): Promise<AccountRow> {
    onlyFields(body, ['provider_id', 'holder', 'external_account_number']);
    const providerId = str(body.provider_id, 'provider_id', 40);
    const holder = str(body.holder, 'holder', 200);
    const number = str(body.external_account_number, 'external_account_number', 64, /^[A-Za-z0-9_-]{4,64}$/);
    const provider = await this.db<ProviderRow>('pa_providers').where({ id: providerId }).first();
    if (!provider) throw new ValidationError([{ field: 'provider_id', message: 'unknown provider' }]);
    const id = newId('acc');
    const at = this.now();
    const row: AccountRow = {
      id, provider_id: providerId, holder, account_number_enc: this.keyring.encrypt(number, ACCOUNT_AAD(id)),
      account_number_fp: this.keyring.fingerprint('pa.account_number', `${providerId}:${number}`),
      account_last4: number.slice(-4), status: 'active', created_at: at, updated_at: at,
    };
    try {
      await this.db('pa_accounts').insert(row);
    } catch (e) {
      if (isUniqueViolation(e)) throw conflict('account_exists', 'This provider already has an account with that number');
      throw e;
    }
    return row;
  }

  async getAccount(id: string): Promise<AccountRow> {
    const a = await this.db<AccountRow>('pa_accounts').where({ id }).first();
    if (!a) throw notFound('Account', 'account_not_found');
    return a;
  }

  async closeAccount(id: string): Promise<AccountRow> {
    await this.getAccount(id);
    await this.db('pa_accounts').where({ id }).update({ status: 'closed', updated_at: this.now() });
    return this.getAccount(id);
  }

  accountNumber(a: AccountRow): string {
    return this.keyring.decrypt(a.account_number_enc, ACCOUNT_AAD(a.id));
  }

  // ------------------------------------------------------------------------------------------------ certificates

  /**
   * Issues a certificate for an account: from a CSR (`csr`, preferred: the key never leaves the holder), or with a
   * key pair made here and returned once in a PKCS#12 bundle protected by `password` (never stored or logged).
   */
  async issue(accountId: string, body: Record<string, unknown>): Promise<{ row: CertificateRow; pkcs12?: Buffer; caPem: string }> {
    onlyFields(body, ['csr', 'password', 'lifetime_days']);
    const account = await this.getAccount(accountId);
    if (account.status !== 'active') throw conflict('account_inactive', 'The account is closed');
    let lifetime = this.options.certLifetimeDays;
    if (body.lifetime_days !== undefined) {
      const l = body.lifetime_days;
      if (typeof l !== 'number' || !Number.isInteger(l) || l < 1 || l > this.options.certLifetimeDays) {
        throw new ValidationError([{ field: 'lifetime_days', message: `must be an integer from 1 to ${this.options.certLifetimeDays}` }]);
      }
      lifetime = l;
    }
    const hasCsr = body.csr !== undefined;
    const hasPassword = body.password !== undefined;
    if (hasCsr === hasPassword) {
      throw new ValidationError([{ field: 'csr', message: 'send either csr (PEM) or password (for a PKCS#12 bundle made here)' }]);
    }
    let spki: string;
    let privateKeyPem: string | null = null;
    let password = '';
    if (hasCsr) {
      try {
        spki = publicKeyFromCsr(body.csr as string);
      } catch (e) {
        refusal(e, 'csr');
      }
    } else {
      if (typeof body.password !== 'string' || !/^[\x20-\x7e]{12,128}$/.test(body.password)) {
        throw new ValidationError([{ field: 'password', message: 'must be 12 to 128 printable ASCII characters' }]);
      }
      password = body.password;
      const pair = generateRsaKeyPair(this.options.generatedKeyBits);
      spki = pair.publicKeyPem;
      privateKeyPem = pair.privateKeyPem;
    }
    const ca = await this.ensureCa();
    const issued = issueClientCertificate({ ca, publicKeyPem: spki!, accountId: account.id, holder: account.holder, now: this.clock.now(), lifetimeDays: lifetime });
    const row: CertificateRow = {
      serial: normalizeSerial(issued.serial), account_id: account.id, fingerprint256: issued.fingerprint256, cert_pem: issued.certPem,
      not_before: issued.notBefore.toISOString(), not_after: issued.notAfter.toISOString(), status: 'active',
      issued_via: hasCsr ? 'csr' : 'pkcs12', revoked_at: null, revocation_reason: null, created_at: this.now(),
    };
    await this.db('pa_certificates').insert(row);
    let pkcs12: Buffer | undefined;
    if (privateKeyPem) {
      pkcs12 = buildPkcs12({
        privateKeyPem, certPem: issued.certPem, chainPems: [ca.certPem], password,
        iterations: this.options.p12Iterations, friendlyName: account.id,
      });
    }
    return { row, pkcs12, caPem: ca.certPem };
  }

  async listCertificates(accountId: string): Promise<CertificateRow[]> {
    await this.getAccount(accountId);
    return this.db<CertificateRow>('pa_certificates').where({ account_id: accountId }).orderBy('created_at', 'desc');
  }

  /** Revokes at once: the next verification reads the row. Revoking twice keeps the first date and reason. */
  async revoke(serialIn: string, reasonIn: unknown, accountId?: string): Promise<CertificateRow> {
    const serial = normalizeSerial(serialIn);
    const reason = (reasonIn ?? 'unspecified') as string;
    if (typeof reason !== 'string' || !Object.prototype.hasOwnProperty.call(REVOCATION_REASONS, reason)) {
      throw new ValidationError([{ field: 'reason', message: `must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}` }]);
    }
    const q = this.db<CertificateRow>('pa_certificates').where({ serial });
    if (accountId) q.andWhere({ account_id: accountId });
    const row = await q.first();
    if (!row) throw notFound('Certificate', 'certificate_not_found');
    await this.db('pa_certificates').where({ serial, status: 'active' }).update({ status: 'revoked', revoked_at: this.now(), revocation_reason: reason });
    this.crlCache = null;
    return (await this.db<CertificateRow>('pa_certificates').where({ serial }).first())!;
  }

  // ------------------------------------------------------------------------------------------------ verification

  /**
   * The one verification path of both ways to pay: PKI checks (pki.verifyClientCertificate, hub clock), then the
   * certificate must be one we issued (serial and SHA-256 fingerprint in pa_certificates), not revoked, for an active
   * account named in its subject, whose provider serves the order's currency. Throws a 422 with a stable code.
   */
  async verifyForOrder(presented: Buffer | string, order: OrderView): Promise<Verified> {
    const ca = await this.ensureCa();
    let cert: VerifiedCertificate;
    try {
      cert = verifyClientCertificate(presented, ca, this.clock.now());
    } catch (e) {
      refusal(e);
    }
    const fail = (code: string, message: string, field = 'certificate'): never => {
      throw new ValidationError([{ field, message }], message, code);
    };
    const row = await this.db<CertificateRow>('pa_certificates').where({ serial: cert!.serial }).first();
    if (!row || row.fingerprint256 !== cert!.fingerprint256) fail('certificate_unknown', 'the certificate was not issued by this hub');
    if (row!.status !== 'active') fail('certificate_revoked', 'the certificate has been revoked');
    const account = await this.db<AccountRow>('pa_accounts').where({ id: row!.account_id }).first();
    if (!account || cert!.subjectCn !== account.id) fail('certificate_unknown', 'the certificate does not name its account');
    if (account!.status !== 'active') fail('account_inactive', 'the account is closed');
    const provider = (await this.db<ProviderRow>('pa_providers').where({ id: account!.provider_id }).first())!;
    if (!(JSON.parse(provider.currencies) as string[]).includes(order.currency)) {
      fail('currency_not_served', `the account's provider does not serve ${order.currency}`, 'currency');
    }
    return { cert: cert!, row: row!, account: account!, provider };
  }

  /**
   * A signed payment request: signature over `order_id\namount\ncurrency\nnonce\nsigned_at` by the certificate's key,
   * signed_at within the window (hub clock), nonce never seen before for this certificate (durable, unique key).
   */
  async verifySignedRequest(v: Verified, order: OrderView, input: { signature: unknown; signed_at: unknown; nonce: unknown; signature_alg?: unknown }): Promise<void> {
    const nonce = str(input.nonce, 'nonce', 128, /^[A-Za-z0-9_\-.:]{16,128}$/);
    const signedAt = str(input.signed_at, 'signed_at', 40, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/);
    const sig = str(input.signature, 'signature', 2048, /^[A-Za-z0-9+/]+={0,2}$/);
    const alg = (input.signature_alg ?? 'rsa-sha256') as SignatureAlgorithm;
    if (alg !== 'rsa-sha256' && alg !== 'rsa-pss-sha256') throw new ValidationError([{ field: 'signature_alg', message: 'must be rsa-sha256 or rsa-pss-sha256' }]);
    const data = signingString({ orderId: order.id, amount: order.amount, currency: order.currency, nonce, signedAt });
    if (!verifySignature(v.cert.publicKey, data, Buffer.from(sig, 'base64'), alg)) {
      throw new ValidationError([{ field: 'signature', message: 'the signature does not verify' }], 'the signature does not verify', 'signature_invalid');
    }
    const t = Date.parse(signedAt);
    const now = this.clock.now().getTime();
    if (!Number.isFinite(t) || now - t > this.options.signatureMaxAgeSeconds * 1000 || t - now > 60_000) {
      throw new ValidationError([{ field: 'signed_at', message: `must be within ${this.options.signatureMaxAgeSeconds} seconds of the hub's clock` }], 'the signed request is stale', 'signature_expired');
    }
    try {
      await this.db('pa_nonces').insert({ serial: v.cert.serial, nonce, order_id: order.id, created_at: this.now() });
    } catch (e) {
      if (isUniqueViolation(e)) throw new PayhubError('nonce_reused', 'this signed request was already used (nonce seen before)', { status: 409, fields: [{ field: 'nonce', message: 'already used' }] });
      throw e;
    }
  }

  /** Re-encrypts the CA key and account numbers under the Keyring's current key (`payhub keys rotate`). */
  async rewrapSecrets(): Promise<{ rewrapped: number; current: number }> {
    const k = this.keyring;
    let rewrapped = 0;
    let current = 0;
    const one = async (table: string, where: Record<string, string>, column: string, value: string, aad: string) => {
      const next = k.rewrap(value, aad);
      if (next === value) {
        current++;
        return;
      }
      await this.db(table).where(where).update({ [column]: next });
      rewrapped++;
    };
    for (const r of await this.db('pa_ca').select('id', 'key_enc')) await one('pa_ca', { id: r.id }, 'key_enc', r.key_enc, CA_AAD);
    for (const r of await this.db('pa_accounts').select('id', 'account_number_enc')) {
      await one('pa_accounts', { id: r.id }, 'account_number_enc', r.account_number_enc, ACCOUNT_AAD(r.id));
    }
    return { rewrapped, current };
  }

  /** Forgets nonces older than twice the window: a replay that old fails the timestamp check anyway. */
  async purgeNonces(): Promise<number> {
    const before = new Date(this.clock.now().getTime() - (this.options.signatureMaxAgeSeconds * 2 + 120) * 1000).toISOString();
    return this.db('pa_nonces').where('created_at', '<', before).delete();
  }
}
