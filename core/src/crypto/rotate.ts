import type { Knex } from 'knex';
import type { AesKeyring } from './keyring';

/**
 * Re-encrypts every core ciphertext (merchant webhook secrets and form keys, payment-method settings) under the
 * keyring's current master-key version. Each row is rewritten in its own small transaction; rows already on the
 * current version are left alone, so the command can be re-run after an interruption.
 */
export async function rewrapCoreSecrets(db: Knex, keyring: AesKeyring): Promise<{ rewrapped: number; current: number }> {
  let rewrapped = 0;
  let current = 0;
  const merchants = await db('merchants').select('id', 'webhook_secret_enc', 'form_key_enc');
  for (const m of merchants) {
    const wh = keyring.rewrap(m.webhook_secret_enc, `merchant:${m.id}:webhook`);
    const fk = keyring.rewrap(m.form_key_enc, `merchant:${m.id}:form`);
    if (wh === m.webhook_secret_enc && fk === m.form_key_enc) {
      current++;
      continue;
    }
    await db('merchants').where({ id: m.id }).update({ webhook_secret_enc: wh, form_key_enc: fk });
    rewrapped++;
  }
  const settings = await db('method_settings').select('merchant_id', 'method', 'settings_enc');
  for (const s of settings) {
    const next = keyring.rewrap(s.settings_enc, `method:${s.merchant_id}:${s.method}`);
    if (next === s.settings_enc) {
      current++;
      continue;
    }
    await db('method_settings').where({ merchant_id: s.merchant_id, method: s.method }).update({ settings_enc: next });
    rewrapped++;
  }
  return { rewrapped, current };
}
