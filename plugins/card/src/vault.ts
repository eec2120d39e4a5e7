import crypto from 'node:crypto';
import { maskPan, newId } from '@payhub/core';
import type { Clock, Db, Keyring } from '@payhub/core';

/**
 * Card vault (envelope encryption).
 *
 *   master key (KEK, from configuration, never in the database)
 *     └─ wraps → data keys (DEK, 256-bit random) in card_data_keys.wrapped_key
 *                  └─ encrypt → card numbers in card_vault.pan_enc (AES-256-GCM, AAD = token + merchant)
 *
 * Lookups of a card without decrypting use a keyed HMAC fingerprint (Keyring.fingerprint), never a plain hash.
 * The CVC is never given to the vault.
 */

export interface DataKeyRow {
  id: string;
  master_key_version: number;
  wrapped_key: string;
  active: boolean | number;
  created_at: string;
  rotated_at: string | null;
}

export interface VaultRow {
  token: string;
  merchant_id: string;
  fingerprint: string;
  pan_enc: string;
  dek_id: string;
  brand: string;
  masked: string;
  exp_month: number;
  exp_year: number;
  created_at: string;
  updated_at: string;
}

/** A stored card, decrypted for one payment. Lives in memory only. */
export interface VaultCard {
  readonly token: string;
  readonly merchantId: string;
  readonly number: string;
  readonly brand: string;
  readonly masked: string;
  readonly fingerprint: string;
  readonly expMonth: number;
  readonly expYear: number;
}

export interface SaveCardInput {
  readonly token?: string;
  readonly merchantId: string;
  readonly number: string;
  readonly brand: string;
  readonly expMonth: number;
  readonly expYear: number;
}

export interface RewrapReport {
  /** Master key version everything is wrapped under afterwards. */
  readonly version: number;
  readonly dataKeys: number;
  readonly rewrapped: number;
  readonly alreadyCurrent: number;
}

export interface DataKeyRotationReport {
  readonly newDataKey: string;
  readonly cardsReencrypted: number;
  readonly retiredDataKeys: number;
}

const FORMAT = 'g1';
const b64u = (b: Buffer) => b.toString('base64url');

/** AAD of a vault ciphertext: binds it to its token and merchant (a ciphertext moved to another row fails). */
export function panAad(token: string, merchantId: string): string {
  return `card_vault|${token}|${merchantId}`;
}

/** AAD of a wrapped data key: binds it to its row. */
export function dekAad(id: string): string {
  return `card_data_keys|${id}`;
}

export function encryptPan(dek: Buffer, pan: string, aad: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', dek, iv);
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const data = Buffer.concat([cipher.update(pan, 'utf8'), cipher.final()]);
  return `${FORMAT}.${b64u(iv)}.${b64u(cipher.getAuthTag())}.${b64u(data)}`;
}

export function decryptPan(dek: Buffer, ciphertext: string, aad: string): string {
  const m = /^g1\.([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(ciphertext);
  if (!m) throw new Error('card vault: not a vault ciphertext');
  const decipher = crypto.createDecipheriv('aes-256-gcm', dek, Buffer.from(m[1]!, 'base64url'));
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(Buffer.from(m[2]!, 'base64url'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(m[3]!, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    // Never include the ciphertext or key material in the error.
    throw new Error('card vault: ciphertext failed authentication');
  }
}

export class CardVault {
  /** Unwrapped data keys by id (memory only). A master-key rotation re-wraps but does not change them. */
  private readonly deks = new Map<string, Buffer>();

  constructor(
    private readonly db: Db,
    private readonly keyring: Keyring,
    private readonly clock: Clock,
  ) {}

  /** Keyed fingerprint of a card number (same card → same value, per hub). */
  fingerprint(pan: string): string {
    return this.keyring.fingerprint('card', pan);
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private unwrap(row: DataKeyRow): Buffer {
    const cached = this.deks.get(row.id);
    if (cached) return cached;
    const dek = Buffer.from(this.keyring.decrypt(row.wrapped_key, dekAad(row.id)), 'base64');
    if (dek.length !== 32) throw new Error(`card vault: data key ${row.id} is not 256 bits`);
    this.deks.set(row.id, dek);
    return dek;
  }

  private async dataKey(id: string): Promise<Buffer> {
    const cached = this.deks.get(id);
    if (cached) return cached;
    const row = await this.db<DataKeyRow>('card_data_keys').where({ id }).first();
    if (!row) throw new Error(`card vault: data key ${id} is missing`);
    return this.unwrap(row);
  }

  /** Creates a data key row (wrapped under the current master key) inside trx. */
  private async insertDataKey(trx: Db): Promise<{ id: string; dek: Buffer }> {
    const id = newId('cdk');
    const dek = crypto.randomBytes(32);
    await trx<DataKeyRow>('card_data_keys').insert({
      id,
      master_key_version: this.keyring.version,
      wrapped_key: this.keyring.encrypt(dek.toString('base64'), dekAad(id)),
      active: true,
      created_at: this.now(),
      rotated_at: null,
    });
    return { id, dek };
  }

  /** The newest active data key; created on first use. */
  async activeDataKey(): Promise<{ id: string; dek: Buffer }> {
    const pick = (db: Db) => db<DataKeyRow>('card_data_keys').where({ active: true }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).first();
    const row = await pick(this.db);
    if (row) return { id: row.id, dek: this.unwrap(row) };
    const created = await this.db.transaction(async (trx) => {
      const again = await pick(trx);
      if (again) return { id: again.id, dek: this.unwrap(again) };
      return this.insertDataKey(trx);
    });
    this.deks.set(created.id, created.dek);
    return created;
  }

  /** Token of this merchant's stored card with the same number, if any (no decryption). */
  async findByFingerprint(merchantId: string, fingerprint: string): Promise<string | null> {
    const row = await this.db<VaultRow>('card_vault')
      .where({ merchant_id: merchantId, fingerprint })
      .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'token', order: 'asc' }])
      .first('token');
    return row?.token ?? null;
  }

  /**
   * Stores a card for a merchant and returns its token. Storing again under the same token (a retried attempt)
   * only refreshes the expiry date.
   */
  async save(input: SaveCardInput): Promise<string> {
    const token = input.token ?? newId('ctok');
    const { id, dek } = await this.activeDataKey();
    const now = this.now();
    const row: VaultRow = {
      token,
      merchant_id: input.merchantId,
      fingerprint: this.fingerprint(input.number),
      pan_enc: encryptPan(dek, input.number, panAad(token, input.merchantId)),
      dek_id: id,
      brand: input.brand,
      masked: maskPan(input.number),
      exp_month: input.expMonth,
      exp_year: input.expYear,
      created_at: now,
      updated_at: now,
    };
    const existing = await this.db<VaultRow>('card_vault').where({ token }).first('merchant_id', 'fingerprint');
    if (existing) {
      if (existing.merchant_id !== input.merchantId || existing.fingerprint !== row.fingerprint) {
        throw new Error('card vault: token is taken by another card');
      }
      await this.db<VaultRow>('card_vault').where({ token }).update({ exp_month: input.expMonth, exp_year: input.expYear, updated_at: now });
      return token;
    }
    await this.db<VaultRow>('card_vault').insert(row);
    return token;
  }

  /** The merchant's card by token, decrypted; null when the token is unknown or belongs to another merchant. */
  async load(merchantId: string, token: string): Promise<VaultCard | null> {
    const row = await this.db<VaultRow>('card_vault').where({ token, merchant_id: merchantId }).first();
    if (!row) return null;
    const dek = await this.dataKey(row.dek_id);
    const number = decryptPan(dek, row.pan_enc, panAad(row.token, row.merchant_id));
    return {
      token: row.token,
      merchantId: row.merchant_id,
      number,
      brand: row.brand,
      masked: row.masked,
      fingerprint: row.fingerprint,
      expMonth: Number(row.exp_month),
      expYear: Number(row.exp_year),
    };
  }

  /** Deletes a merchant's stored card. True when a row was deleted. */
  async remove(merchantId: string, token: string): Promise<boolean> {
    return (await this.db('card_vault').where({ token, merchant_id: merchantId }).delete()) > 0;
  }

  /**
   * Master-key rotation: re-wraps every data key under the keyring's current master key version.
   * The data keys themselves (and so every card ciphertext) stay unchanged. Old master key versions must still
   * be configured (keys.previous) while this runs. One transaction: all or nothing.
   */
  async rewrapDataKeys(): Promise<RewrapReport> {
    const version = this.keyring.version;
    return this.db.transaction(async (trx) => {
      const rows = await trx<DataKeyRow>('card_data_keys').select('*').orderBy('id');
      let rewrapped = 0;
      const now = this.now();
      for (const row of rows) {
        const aad = dekAad(row.id);
        const wrapped = this.keyring.rewrap(row.wrapped_key, aad);
        // Prove the new wrapping opens before it replaces the old one.
        const dek = Buffer.from(this.keyring.decrypt(wrapped, aad), 'base64');
        if (dek.length !== 32) throw new Error(`card vault: data key ${row.id} is not 256 bits`);
        if (wrapped === row.wrapped_key && Number(row.master_key_version) === version) continue;
        await trx('card_data_keys').where({ id: row.id }).update({ wrapped_key: wrapped, master_key_version: version, rotated_at: now });
        rewrapped++;
      }
      return { version, dataKeys: rows.length, rewrapped, alreadyCurrent: rows.length - rewrapped };
    });
  }

  /**
   * Data-key rotation: a new data key becomes the only active one and every stored card is re-encrypted under it.
   * Retired keys that no card uses any more are deleted.
   */
  async rotateDataKey(): Promise<DataKeyRotationReport> {
    const result = await this.db.transaction(async (trx) => {
      await trx('card_data_keys').update({ active: false });
      const fresh = await this.insertDataKey(trx);
      const cards = await trx<VaultRow>('card_vault').select('token', 'merchant_id', 'pan_enc', 'dek_id');
      const oldKeys = new Map<string, Buffer>();
      for (const c of cards) {
        let dek = oldKeys.get(c.dek_id);
        if (!dek) {
          const row = await trx<DataKeyRow>('card_data_keys').where({ id: c.dek_id }).first();
          if (!row) throw new Error(`card vault: data key ${c.dek_id} is missing`);
          dek = Buffer.from(this.keyring.decrypt(row.wrapped_key, dekAad(row.id)), 'base64');
          oldKeys.set(c.dek_id, dek);
        }
        const aad = panAad(c.token, c.merchant_id);
        const pan = decryptPan(dek, c.pan_enc, aad);
        await trx('card_vault').where({ token: c.token }).update({ pan_enc: encryptPan(fresh.dek, pan, aad), dek_id: fresh.id });
      }
      const retired = await trx('card_data_keys').whereNot({ id: fresh.id }).delete();
      return { fresh, cardsReencrypted: cards.length, retiredDataKeys: retired };
    });
    this.deks.clear();
    this.deks.set(result.fresh.id, result.fresh.dek);
    return { newDataKey: result.fresh.id, cardsReencrypted: result.cardsReencrypted, retiredDataKeys: result.retiredDataKeys };
  }
}
