import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Keyring } from '../sdk/services';
import type { Mode } from '../sdk/payments';
import { isKnownCurrency } from '../sdk/money';
import { newId } from '../sdk/util';
import { invalid } from '../errors';
import type { MerchantRow } from './rows';

export interface NewMerchant {
  name: string;
  mode?: Mode;
  notifyUrl?: string | null;
  currencies?: string[];
  directCardInput?: boolean;
  bankAdapter?: string;
  feeBps?: number;
  /** Onboarding: test keys stop working after this time. */
  testExpiresAt?: string | null;
  /** The demo merchant of `payhub start`. */
  demo?: boolean;
}

export interface CreatedMerchant {
  id: string;
  name: string;
  mode: Mode;
  test_secret_key: string;
  live_secret_key?: string;
  webhook_secret: string;
  form_key: string;
}

export function newSecretKey(mode: Mode): string {
  return `sk_${mode}_${newId('x', 32).slice(2)}`;
}

export function keyHash(keyring: Keyring, key: string): string {
  return keyring.fingerprint('api_key', key);
}

export async function issueKey(trx: Knex | Knex.Transaction, keyring: Keyring, merchantId: string, mode: Mode, at: string): Promise<string> {
  const key = newSecretKey(mode);
  await trx('api_keys').insert({
    id: newId('key'), merchant_id: merchantId, mode, key_hash: keyHash(keyring, key), last4: key.slice(-4), created_at: at,
  });
  return key;
}

export function validateNotifyUrl(url: string | null | undefined, field: string): void {
  if (url == null) return;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalid(field, 'must be an absolute http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(field, 'must be an absolute http(s) URL');
}

/** Creates a merchant with a test key (and a live key when created in live mode). */
export async function createMerchant(db: Knex, keyring: Keyring, at: string, m: NewMerchant): Promise<CreatedMerchant> {
  if (!m.name || m.name.length > 200) throw invalid('name', 'must be 1 to 200 characters');
  validateNotifyUrl(m.notifyUrl, 'notify_url');
  const currencies = m.currencies ?? ['RUB', 'USD', 'EUR'];
  for (const c of currencies) if (!isKnownCurrency(c)) throw invalid('currencies', `unknown currency ${c}`);
  const mode = m.mode ?? 'test';
  const id = newId('mer');
  const webhookSecret = `whsec_${crypto.randomBytes(24).toString('base64')}`;
  const formKey = `fk_${newId('x', 32).slice(2)}`;
  return db.transaction(async (trx) => {
    const row: MerchantRow = {
      id, name: m.name, mode, status: 'active', notify_url: m.notifyUrl ?? null,
      webhook_secret_enc: keyring.encrypt(webhookSecret, `merchant:${id}:webhook`),
      form_key_enc: keyring.encrypt(formKey, `merchant:${id}:form`),
      currencies: JSON.stringify(currencies), direct_card_input: m.directCardInput ?? false,
      bank_adapter: m.bankAdapter ?? 'sandbox-bank', fee_bps: m.feeBps ?? 0, settings: m.demo ? '{"demo":true}' : '{}',
      test_expires_at: m.testExpiresAt ?? null, created_at: at, updated_at: at,
    };
    await trx('merchants').insert(row);
    const testKey = await issueKey(trx, keyring, id, 'test', at);
    const liveKey = mode === 'live' ? await issueKey(trx, keyring, id, 'live', at) : undefined;
    await trx('audit_log').insert({ merchant_id: id, actor: 'operator', action: 'merchant.created', data: JSON.stringify({ mode }), at });
    return {
      id, name: m.name, mode, test_secret_key: testKey, ...(liveKey ? { live_secret_key: liveKey } : {}),
      webhook_secret: webhookSecret, form_key: formKey,
    };
  });
}

export function webhookSecretOf(keyring: Keyring, row: MerchantRow): string {
  return keyring.decrypt(row.webhook_secret_enc, `merchant:${row.id}:webhook`);
}

export function formKeyOf(keyring: Keyring, row: MerchantRow): string {
  return keyring.decrypt(row.form_key_enc, `merchant:${row.id}:form`);
}
