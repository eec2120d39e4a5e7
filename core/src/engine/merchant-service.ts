import crypto from 'node:crypto';
import type { Knex } from 'knex';
import type { Clock, Keyring, MerchantRecord, MerchantsService, NewMerchantInput, CreatedMerchantKeys } from '../sdk/services';
import type { Mode } from '../sdk/payments';
import { isKnownCurrency } from '../sdk/money';
import { invalid, notFound } from '../errors';
import { createMerchant, formKeyOf, issueKey, validateNotifyUrl, webhookSecretOf } from './merchants';
import { parseJson, type MerchantRow } from './rows';

function record(r: MerchantRow): MerchantRecord {
  return {
    id: r.id, name: r.name, mode: r.mode, status: r.status, currencies: parseJson<string[]>(r.currencies, []),
    notifyUrl: r.notify_url, directCardInput: Boolean(r.direct_card_input), bankAdapter: r.bank_adapter,
    feeBps: Number(r.fee_bps), testExpiresAt: r.test_expires_at, createdAt: r.created_at,
  };
}

/** Merchant administration; every change is one transaction with its audit row. */
export class MerchantAdmin implements MerchantsService {
  constructor(private readonly d: { db: Knex; keyring: Keyring; clock: Clock; onChange?: () => void }) {}

  private now() {
    return this.d.clock.now().toISOString();
  }

  private async row(id: string, q: Knex | Knex.Transaction = this.d.db): Promise<MerchantRow> {
    const r = await q<MerchantRow>('merchants').where({ id }).first();
    if (!r) throw notFound('Merchant', 'merchant_not_found');
    return r;
  }

  private async audit(trx: Knex.Transaction, merchantId: string, actor: string, action: string, data: Record<string, unknown> = {}) {
    await trx('audit_log').insert({ merchant_id: merchantId, actor, action, data: JSON.stringify(data), at: this.now() });
  }

  async create(input: NewMerchantInput, actor: string): Promise<CreatedMerchantKeys> {
    const m = await createMerchant(this.d.db, this.d.keyring, this.now(), input);
    if (actor !== 'operator') await this.d.db('audit_log').insert({ merchant_id: m.id, actor, action: 'merchant.created_by', data: '{}', at: this.now() });
    return m;
  }

  async get(id: string): Promise<MerchantRecord | null> {
    const r = await this.d.db<MerchantRow>('merchants').where({ id }).first();
    return r ? record(r) : null;
  }

  async list(opts: { limit?: number } = {}): Promise<MerchantRecord[]> {
    const rows = await this.d.db<MerchantRow>('merchants').orderBy('created_at', 'desc').limit(opts.limit ?? 500);
    return rows.map(record);
  }

  async update(id: string, patch: Parameters<MerchantsService['update']>[1], actor: string): Promise<MerchantRecord> {
    const upd: Partial<MerchantRow> = {};
    if (patch.name !== undefined) {
      if (!patch.name || patch.name.length > 200) throw invalid('name', 'must be 1 to 200 characters');
      upd.name = patch.name;
    }
    if (patch.notifyUrl !== undefined) {
      validateNotifyUrl(patch.notifyUrl, 'notify_url');
      upd.notify_url = patch.notifyUrl;
    }
    if (patch.currencies !== undefined) {
      for (const c of patch.currencies) if (!isKnownCurrency(c)) throw invalid('currencies', `unknown currency ${c}`);
      upd.currencies = JSON.stringify(patch.currencies);
    }
    if (patch.bankAdapter !== undefined) upd.bank_adapter = patch.bankAdapter;
    if (patch.directCardInput !== undefined) upd.direct_card_input = patch.directCardInput;
    if (patch.testExpiresAt !== undefined) upd.test_expires_at = patch.testExpiresAt;
    if (patch.status !== undefined) {
      if (!['active', 'disabled'].includes(patch.status)) throw invalid('status', 'must be active or disabled');
      upd.status = patch.status;
    }
    if (patch.feeBps !== undefined) {
      if (!Number.isInteger(patch.feeBps) || patch.feeBps < 0 || patch.feeBps > 10_000) throw invalid('fee_bps', 'must be 0 to 10000');
      upd.fee_bps = patch.feeBps;
    }
    await this.d.db.transaction(async (trx) => {
      await this.row(id, trx);
      await trx('merchants').where({ id }).update({ ...upd, updated_at: this.now() });
      await this.audit(trx, id, actor, 'merchant.updated', { fields: Object.keys(upd) });
    });
    this.d.onChange?.();
    return (await this.get(id))!;
  }

  async switchMode(id: string, mode: Mode, actor: string): Promise<{ liveKey?: string }> {
    const liveKey = await this.d.db.transaction(async (trx) => {
      const r = await this.row(id, trx);
      if (r.mode === mode) return undefined;
      await trx('merchants').where({ id }).update({ mode, updated_at: this.now() });
      let key: string | undefined;
      if (mode === 'live') {
        const existing = await trx('api_keys').where({ merchant_id: id, mode: 'live' }).whereNull('revoked_at').first();
        if (!existing) key = await issueKey(trx, this.d.keyring, id, 'live', this.now());
      }
      await this.audit(trx, id, actor, 'merchant.mode_switched', { from: r.mode, to: mode });
      return key;
    });
    this.d.onChange?.();
    return liveKey ? { liveKey } : {};
  }

  async rollKey(id: string, mode: Mode, actor: string): Promise<string> {
    const key = await this.d.db.transaction(async (trx) => {
      await this.row(id, trx);
      await trx('api_keys').where({ merchant_id: id, mode }).whereNull('revoked_at').update({ revoked_at: this.now() });
      const k = await issueKey(trx, this.d.keyring, id, mode, this.now());
      await this.audit(trx, id, actor, 'api_key.rolled', { mode });
      return k;
    });
    this.d.onChange?.();
    return key;
  }

  async listKeys(id: string) {
    const rows = await this.d.db('api_keys').where({ merchant_id: id }).orderBy('created_at', 'desc');
    return rows.map((k: Record<string, string | null>) => ({ id: k.id!, mode: k.mode!, last4: k.last4!, createdAt: k.created_at!, revokedAt: k.revoked_at ?? null }));
  }

  async rollWebhookSecret(id: string, actor: string): Promise<string> {
    const secret = `whsec_${crypto.randomBytes(24).toString('base64')}`;
    await this.d.db.transaction(async (trx) => {
      await this.row(id, trx);
      await trx('merchants').where({ id }).update({ webhook_secret_enc: this.d.keyring.encrypt(secret, `merchant:${id}:webhook`), updated_at: this.now() });
      await this.audit(trx, id, actor, 'webhook_secret.rolled');
    });
    return secret;
  }

  async webhookSecret(id: string): Promise<string> {
    return webhookSecretOf(this.d.keyring, await this.row(id));
  }

  async formKey(id: string): Promise<string> {
    return formKeyOf(this.d.keyring, await this.row(id));
  }
}
