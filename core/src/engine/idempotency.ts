import type { Middleware } from 'koa';
import type { Knex } from 'knex';
import type { Clock, Keyring } from '../sdk/services';
import { badRequest, conflict, PayhubError } from '../errors';
import { isUniqueViolation } from '../db/knex';
import { problemOf } from '../http/problem';

/** Canonical JSON: keys sorted, so the same body in another key order is the same request. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

const STALE_MS = 5 * 60_000;

/**
 * Idempotency-Key on POST (per merchant): the database's primary key decides the winner. Same key + same body →
 * the stored response with Idempotent-Replayed: true; different body → 422; still running → 409. The request is
 * kept only as a keyed HMAC (no card data); validation failures and 5xx are not stored, so they can be retried.
 */
export function idempotency(db: Knex, keyring: Keyring, clock: Clock): Middleware {
  return async (ctx, next) => {
    const key = ctx.get('Idempotency-Key');
    if (!key || ctx.method !== 'POST') return next();
    if (key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
    const merchantId: string = ctx.state.merchant?.id;
    if (!merchantId) return next();
    const hash = keyring.fingerprint('idempotency', `${ctx.method} ${ctx.path}\n${canonical((ctx.request as { body?: unknown }).body ?? null)}`);
    const now = clock.now().toISOString();
    let claimed = false;
    try {
      await db('idempotency_keys').insert({ merchant_id: merchantId, key, request_hash: hash, state: 'running', locked_at: now, created_at: now });
      claimed = true;
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    if (!claimed) {
      const row = await db('idempotency_keys').where({ merchant_id: merchantId, key }).first();
      if (!row) throw conflict('idempotency_key_in_use', 'A request with this Idempotency-Key is being processed; retry later');
      if (row.request_hash !== hash) {
        throw new PayhubError('idempotency_key_reused', 'This Idempotency-Key was used with a different request', { status: 422, fields: [{ field: 'Idempotency-Key', message: 'already used with a different request' }] });
      }
      if (row.state === 'running') {
        const stale = row.locked_at && Date.now() - Date.parse(row.locked_at) > STALE_MS;
        const taken = stale && (await db('idempotency_keys').where({ merchant_id: merchantId, key, state: 'running', locked_at: row.locked_at }).update({ locked_at: now })) === 1;
        if (!taken) throw conflict('idempotency_key_in_use', 'A request with this Idempotency-Key is being processed; retry later', { retry_after: 1 });
      } else {
        ctx.status = row.response_status;
        ctx.set('Idempotent-Replayed', 'true');
        const body = row.response_body ? JSON.parse(row.response_body) : undefined;
        if (row.response_status >= 400) ctx.type = 'application/problem+json';
        ctx.body = body;
        return;
      }
    }
    let stored = false;
    try {
      await next();
      const status = ctx.status;
      if (status < 500 && status !== 400 && status !== 422 && status !== 401) {
        await db('idempotency_keys').where({ merchant_id: merchantId, key }).update({
          state: 'done', response_status: status, response_body: ctx.body === undefined ? null : JSON.stringify(ctx.body),
        });
        stored = true;
      }
    } catch (e) {
      const status = (e as PayhubError).status ?? 500;
      if (e instanceof PayhubError && status < 500 && status !== 400 && status !== 422 && status !== 401 && e.code !== 'idempotency_key_in_use') {
        await db('idempotency_keys').where({ merchant_id: merchantId, key }).update({
          state: 'done', response_status: status, response_body: JSON.stringify(problemOf(e, ctx.state.requestId)),
        });
        stored = true;
      }
      throw e;
    } finally {
      if (!stored) await db('idempotency_keys').where({ merchant_id: merchantId, key, state: 'running' }).del();
    }
  };
}
