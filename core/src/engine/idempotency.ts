import type { Context, Middleware } from 'koa';
import type { Knex } from 'knex';
import type { Clock, Keyring } from '../sdk/services';
import { badRequest, conflict, PayhubError } from '../errors';
import { durableRead, isUniqueViolation } from '../db/knex';
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

/** Lets a handler store its response inside its own last write transaction (one commit fewer per request). */
export interface IdempotencyRecorder {
  /**
   * Claims the key (state running) inside `trx`, for a handler that writes in several transactions: call it first
   * in the first of them. Throws when another request holds the key (the transaction must then roll back).
   */
  claim(trx: Knex.Transaction): Promise<void>;
  /**
   * Stores `status` and `body` as the key's response in `trx`; with `claimInTx` the key is claimed by the same
   * statement, so call it first in the transaction. Throws when another request holds the key (the transaction
   * must then roll back; the middleware answers as for any other repeated key).
   */
  complete(trx: Knex.Transaction, status: number, body: unknown): Promise<void>;
}

/** The recorder of the current request, when it carries an Idempotency-Key. */
export function idempotencyRecorder(ctx: Context): IdempotencyRecorder | undefined {
  return ctx.state.idempotency as IdempotencyRecorder | undefined;
}

class KeyTaken extends Error {}

const storable = (status: number) => status < 500 && status !== 400 && status !== 422 && status !== 401;

/**
 * Idempotency-Key on POST (per merchant): the database's primary key decides the winner. Same key + same body →
 * the stored response with Idempotent-Replayed: true; different body → 422; still running → 409. The request is
 * kept only as a keyed HMAC (no card data); validation failures and 5xx are not stored, so they can be retried.
 * The key is claimed (state running) before the handler runs, in its own commit. With `claimInTx` the handler
 * claims it inside its own first transaction instead: IdempotencyRecorder.complete when that one transaction is
 * all it writes, IdempotencyRecorder.claim when more follow. A repeated request then runs the handler's checks up
 * to that claim (so they must write nothing), fails on the key's primary key, rolls back and gets the stored
 * answer (or 409/422) as above. The primary key decides the winner either way. Stored answers are read with
 * durableRead: a replay never answers from a commit that is not on disk yet.
 */
export function idempotency(db: Knex, keyring: Keyring, clock: Clock, opts: { claimInTx?: boolean } = {}): Middleware {
  return async (ctx, next) => {
    const key = ctx.get('Idempotency-Key');
    if (!key || ctx.method !== 'POST') return next();
    if (key.length > 255 || !/^[\x21-\x7e]+$/.test(key)) throw badRequest('invalid_idempotency_key', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
    const merchantId: string = ctx.state.merchant?.id;
    if (!merchantId) return next();
    const hash = keyring.fingerprint('idempotency', `${ctx.method} ${ctx.path}\n${canonical((ctx.request as { body?: unknown }).body ?? null)}`);
    const now = clock.now().toISOString();
    const inUse = () => conflict('idempotency_key_in_use', 'A request with this Idempotency-Key is being processed; retry later', { retry_after: 1 });
    /** A stored row for this key: replays it (true), takes over a stale claim (false) or throws 422/409. */
    const answer = async (row: Record<string, any>, mayTakeOver = true): Promise<boolean> => { // eslint-disable-line @typescript-eslint/no-explicit-any
      if (row.request_hash !== hash) {
        throw new PayhubError('idempotency_key_reused', 'This Idempotency-Key was used with a different request', { status: 422, fields: [{ field: 'Idempotency-Key', message: 'already used with a different request' }] });
      }
      if (row.state === 'running') {
        const stale = row.locked_at && Date.now() - Date.parse(row.locked_at) > STALE_MS;
        const taken = mayTakeOver && stale && (await db('idempotency_keys').where({ merchant_id: merchantId, key, state: 'running', locked_at: row.locked_at }).update({ locked_at: now })) === 1;
        if (!taken) throw inUse();
        return false;
      }
      ctx.status = row.response_status;
      ctx.set('Idempotent-Replayed', 'true');
      const body = row.response_body ? JSON.parse(row.response_body) : undefined;
      if (row.response_status >= 400) ctx.type = 'application/problem+json';
      ctx.body = body;
      return true;
    };
    const current = () => durableRead(db, (q) => q('idempotency_keys').where({ merchant_id: merchantId, key }).first());
    let claimed = false;
    /** The transaction that claimed the key, while it has not committed yet. */
    let claimedIn: Knex.Transaction | null = null;
    if (!opts.claimInTx) {
      try {
        await db('idempotency_keys').insert({ merchant_id: merchantId, key, request_hash: hash, state: 'running', locked_at: now, created_at: now });
        claimed = true;
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
      }
      if (!claimed) {
        const row = await current();
        if (!row) throw inUse();
        if (await answer(row)) return;
        claimed = true;
      }
    }
    const done = (status: number, body: unknown) => ({ state: 'done', response_status: status, response_body: body === undefined ? null : JSON.stringify(body) });
    /** Stores the response: updates our claim, or inserts the finished row; false when another request has the key. */
    const store = async (q: Knex | Knex.Transaction, status: number, body: unknown): Promise<boolean> => {
      if (claimed || q === claimedIn) {
        await q('idempotency_keys').where({ merchant_id: merchantId, key }).update(done(status, body));
        return true;
      }
      try {
        await q('idempotency_keys').insert({ merchant_id: merchantId, key, request_hash: hash, locked_at: now, created_at: now, ...done(status, body) });
        return true;
      } catch (e) {
        if (isUniqueViolation(e)) return false;
        throw e;
      }
    };
    let stored = false;
    let storing: Promise<unknown> = Promise.resolve();
    const recorder: IdempotencyRecorder = {
      async claim(trx) {
        if (claimed) return;
        try {
          await trx('idempotency_keys').insert({ merchant_id: merchantId, key, request_hash: hash, state: 'running', locked_at: now, created_at: now });
        } catch (e) {
          if (isUniqueViolation(e)) throw new KeyTaken();
          throw e;
        }
        claimedIn = trx;
        storing = trx.executionPromise.then(() => { claimed = true; }, () => undefined).finally(() => { claimedIn = null; });
      },
      async complete(trx, status, body) {
        if (!(await store(trx, status, body))) throw new KeyTaken();
        storing = trx.executionPromise.then(() => { stored = true; }, () => undefined);
      },
    };
    ctx.state.idempotency = recorder;
    try {
      await next();
      await storing;
      const status = ctx.status;
      if (!stored && storable(status)) {
        if (!(await store(db, status, ctx.body))) throw new KeyTaken();
        stored = true;
      }
    } catch (e) {
      await storing;
      if (e instanceof KeyTaken) {
        const row = await current();
        if (!row || !(await answer(row, false))) throw inUse();
        return;
      }
      const status = (e as PayhubError).status ?? 500;
      if (!stored && e instanceof PayhubError && storable(status) && e.code !== 'idempotency_key_in_use') {
        if (await store(db, status, problemOf(e, ctx.state.requestId))) stored = true;
        else {
          const row = await current();
          if (!row || !(await answer(row, false))) throw inUse();
          return;
        }
      } else if (opts.claimInTx && !claimed && !stored && e instanceof PayhubError && (status === 400 || status === 422)) {
        // The handler's checks refused the request before it reached the claim. If the key has an answer, the
        // request is a repeat: it gets that answer (or 422 for another body, 409 while it runs), as it would have
        // with the key claimed before the handler.
        const row = await current();
        if (row && (await answer(row, false))) return;
      }
      throw e;
    } finally {
      if (claimed && !stored) await db('idempotency_keys').where({ merchant_id: merchantId, key, state: 'running' }).del();
    }
  };
}
