import type { Middleware } from 'koa';
import type { Knex } from 'knex';
import type { Clock, Keyring } from '../sdk/services';
import { PayhubError, unauthorized } from '../errors';
import { safeEqual } from '../sdk/util';
import { keyHash } from './merchants';
import { merchantView, type MerchantRow } from './rows';

function bearer(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m ? m[1]! : null;
}

interface Cached { row: MerchantRow; keyMode: string; keyExpires: string | null; until: number }

/**
 * `Authorization: Bearer sk_test_…|sk_live_…`. Keys are looked up by their keyed hash; a key whose mode differs
 * from the merchant's mode is refused; test keys of an onboarding merchant stop at test_expires_at.
 * Lookups are cached for a few seconds (revocation takes effect within that window).
 */
export function merchantAuth(db: Knex, keyring: Keyring, clock: Clock, ttlMs = 2000): Middleware & { invalidate(): void } {
  const cache = new Map<string, Cached>();
  const mw = (async (ctx, next) => {
    const key = bearer(ctx.get('Authorization'));
    if (!key) throw unauthorized('missing_api_key', 'Send your secret key as Authorization: Bearer sk_…');
    if (!/^sk_(test|live)_[A-Za-z0-9]{16,64}$/.test(key)) throw unauthorized('invalid_api_key', 'The API key is not valid');
    const h = keyHash(keyring, key);
    const now = clock.now();
    let c = cache.get(h);
    if (!c || c.until < Date.now()) {
      const k = await db('api_keys').where({ key_hash: h }).whereNull('revoked_at').first();
      if (!k) {
        cache.delete(h);
        throw unauthorized('invalid_api_key', 'The API key is not valid');
      }
      const row = await db<MerchantRow>('merchants').where({ id: k.merchant_id }).first();
      if (!row) throw unauthorized('invalid_api_key', 'The API key is not valid');
      c = { row, keyMode: k.mode, keyExpires: k.expires_at, until: Date.now() + ttlMs };
      if (cache.size > 10_000) cache.clear();
      cache.set(h, c);
    }
    if (c.row.status !== 'active') throw unauthorized('merchant_disabled', 'The merchant account is disabled');
    if (c.keyExpires && Date.parse(c.keyExpires) <= now.getTime()) throw unauthorized('api_key_expired', 'The API key has expired');
    if (c.keyMode !== c.row.mode) {
      throw unauthorized('key_mode_mismatch', `A ${c.keyMode} key cannot be used while the merchant is in ${c.row.mode} mode`);
    }
    if (c.keyMode === 'test' && c.row.test_expires_at && Date.parse(c.row.test_expires_at) <= now.getTime()) {
      throw unauthorized('test_mode_expired', 'The test period has ended; complete registration to continue');
    }
    ctx.state.merchant = merchantView(c.row);
    ctx.state.merchantRow = c.row;
    await next();
  }) as Middleware & { invalidate(): void };
  mw.invalidate = () => cache.clear();
  return mw;
}

export function adminAuth(token: () => string): Middleware {
  return async (ctx, next) => {
    const given = bearer(ctx.get('Authorization'));
    if (!given) throw unauthorized('missing_admin_token', 'Send the operator token as Authorization: Bearer <token>');
    if (!safeEqual(given, token())) throw new PayhubError('invalid_admin_token', 'The operator token is not valid', { status: 401 });
    ctx.state.admin = true;
    await next();
  };
}
