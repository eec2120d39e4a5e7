import type Router from '@koa/router';
import type { Middleware, Context } from 'koa';
import type { Knex } from 'knex';
import type { Keyring, Runtime } from '../sdk/services';
import type { RequestInfo } from '../sdk/payments';
import { badRequest, invalid, notFound, ValidationError } from '../errors';
import { attemptJson, orderJson, parseJson, type AttemptRow, type OrderRow } from './rows';
import type { PaymentsEngine } from './service';
import { balances } from './ledger';
import { createMerchant } from './merchants';
import type { WebhookSender } from './webhooks';
import type { Clock } from '../sdk/services';
import { ORDER_STATUSES } from '../sdk/payments';
import { idempotency, idempotencyRecorder } from './idempotency';

export interface EngineRouteDeps {
  engine: PaymentsEngine;
  webhooks: WebhookSender;
  db: Knex;
  keyring: Keyring;
  clock: Clock;
  runtime: Runtime;
  requireMerchant: Middleware;
  requireAdmin: Middleware;
  idempotent: Middleware;
  hasPayPage: () => boolean;
  countryHeader: string | null;
}

export function requestInfo(ctx: Context, runtime: Runtime, countryHeader: string | null = null): RequestInfo {
  const c = countryHeader ? ctx.get(countryHeader).trim().toUpperCase() : '';
  return {
    ip: ctx.ip, userAgent: ctx.get('User-Agent') || undefined, baseUrl: runtime.baseUrl(),
    lang: ctx.acceptsLanguages('ru', 'en', 'de') || undefined, ...(/^[A-Z]{2}$/.test(c) ? { country: c } : {}),
  };
}

function body(ctx: Context): Record<string, unknown> {
  const b = (ctx.request as { body?: unknown }).body;
  if (b === undefined || b === null || (typeof b === 'object' && !Array.isArray(b) && Object.keys(b).length === 0 && !ctx.request.length)) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw badRequest('invalid_body', 'The request body must be a JSON object');
  return b as Record<string, unknown>;
}

function intParam(v: unknown, field: string, min: number, max: number, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(field, `must be a whole number from ${min} to ${max}`);
  return n;
}

function isoParam(v: unknown, field: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  const t = Date.parse(String(v));
  if (Number.isNaN(t)) throw invalid(field, 'must be an ISO-8601 date-time');
  return new Date(t).toISOString();
}

/** Cursor pagination over (created_at, id), newest first. */
async function page<T extends { id: string; created_at: string }>(q: Knex.QueryBuilder, table: string, db: Knex, limit: number, startingAfter?: string): Promise<{ data: T[]; has_more: boolean }> {
  if (startingAfter) {
    const c = await db(table).where({ id: startingAfter }).first();
    if (!c) throw invalid('starting_after', 'unknown cursor');
    q = q.where((w) => w.where('created_at', '<', c.created_at).orWhere((x) => x.where('created_at', '=', c.created_at).andWhere('id', '<', c.id)));
  }
  const rows = (await q.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(limit + 1)) as T[];
  return { data: rows.slice(0, limit), has_more: rows.length > limit };
}

export function mountEngineRoutes(router: Router, d: EngineRouteDeps): void {
  const { engine, db, requireMerchant: auth, idempotent, runtime } = d;
  const mid = (ctx: Context): string => ctx.state.merchant.id;

  // One commit per order: the Idempotency-Key is claimed and answered inside the transaction that stores the order.
  const idempotentInTx = idempotency(db, d.keyring, d.clock, { claimInTx: true });
  router.post('/v1/orders', auth, idempotentInTx, async (ctx) => {
    const rec = idempotencyRecorder(ctx);
    const row = await engine.createOrderRow(mid(ctx), body(ctx), rec && ((trx, r) => rec.complete(trx, 201, orderJson(r, runtime.baseUrl(), [], []))));
    ctx.status = 201;
    ctx.body = orderJson(row, runtime.baseUrl(), [], []);
  });

  router.get('/v1/orders', auth, async (ctx) => {
    const q = ctx.query;
    const limit = intParam(q.limit, 'limit', 1, 100, 20);
    let qb: Knex.QueryBuilder = db('orders').where({ merchant_id: mid(ctx) });
    if (q.status !== undefined) {
      if (!(ORDER_STATUSES as readonly string[]).includes(String(q.status))) throw invalid('status', `must be one of ${ORDER_STATUSES.join(', ')}`);
      qb = qb.where({ status: String(q.status) });
    }
    if (q.order_number !== undefined) qb = qb.where({ order_number: String(q.order_number) });
    const from = isoParam(q.created_from, 'created_from');
    const to = isoParam(q.created_to, 'created_to');
    if (from) qb = qb.where('created_at', '>=', from);
    if (to) qb = qb.where('created_at', '<', to);
    const r = await page<OrderRow>(qb, 'orders', db, limit, q.starting_after ? String(q.starting_after) : undefined);
    ctx.body = { object: 'list', data: r.data.map((o) => orderJson(o, runtime.baseUrl())), has_more: r.has_more };
  });

  router.get('/v1/orders/:id', auth, async (ctx) => {
    ctx.body = await engine.orderWithDetails(await engine.ownOrder(mid(ctx), ctx.params.id!));
  });

  // The key is claimed in the payment's first transaction (see startAttemptRow) and answered in its last.
  router.post('/v1/orders/:id/payments', auth, idempotentInTx, async (ctx) => {
    const b = body(ctx);
    const { method, ...input } = b;
    if (method === undefined) throw invalid('method', 'is required');
    const rec = idempotencyRecorder(ctx);
    const row = await engine.startAttemptRow({
      merchantId: mid(ctx), orderId: ctx.params.id!, method: method as string, input, source: 'api', request: requestInfo(ctx, runtime, d.countryHeader),
      claim: rec && ((trx) => rec.claim(trx)),
      last: rec && ((trx, r) => rec.complete(trx, 201, attemptJson(r))),
    });
    ctx.status = 201;
    ctx.body = attemptJson(row);
  });

  router.post('/v1/orders/:id/capture', auth, idempotent, async (ctx) => {
    const b = body(ctx);
    for (const k of Object.keys(b)) if (k !== 'amount') throw invalid(k, 'unknown field');
    ctx.body = await engine.capture(mid(ctx), ctx.params.id!, b.amount as number | undefined);
  });

  router.post('/v1/orders/:id/cancel', auth, idempotent, async (ctx) => {
    ctx.body = await engine.cancel(mid(ctx), ctx.params.id!);
  });

  router.post('/v1/orders/:id/refunds', auth, idempotent, async (ctx) => {
    const b = body(ctx);
    for (const k of Object.keys(b)) if (!['amount', 'currency', 'reason'].includes(k)) throw invalid(k, 'unknown field');
    ctx.status = 201;
    ctx.body = await engine.refund(mid(ctx), ctx.params.id!, b);
  });

  router.post('/v1/orders/:id/review', auth, idempotent, async (ctx) => {
    const b = body(ctx);
    for (const k of Object.keys(b)) if (k !== 'decision') throw invalid(k, 'unknown field');
    if (b.decision !== 'approve' && b.decision !== 'reject') throw invalid('decision', 'must be "approve" or "reject"');
    ctx.body = await engine.resolveReview(mid(ctx), ctx.params.id!, b.decision, 'merchant');
  });

  router.get('/v1/payment-methods', auth, async (ctx) => {
    const merchant = ctx.state.merchant;
    const data = [];
    for (const m of engine.methods().values()) {
      const settings = await engine.getMethodSettings(merchant.id, m.id);
      data.push({
        id: m.id, display_name: m.displayName, currencies: m.currencies ?? merchant.currencies,
        enabled: await engine.isEnabled(merchant, m, settings), configured: settings !== null, supports: m.supports,
      });
    }
    ctx.body = { object: 'list', data };
  });

  router.get('/v1/payment-methods/:method/settings', auth, async (ctx) => {
    const m = engine.method(ctx.params.method!);
    if (!m) throw notFound('Payment method', 'unknown_method');
    const s = await engine.getMethodSettings(mid(ctx), m.id);
    const masked: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(s ?? {})) masked[k] = m.secretSettings?.includes(k) ? '********' : v;
    ctx.body = { method: m.id, configured: s !== null, settings: masked };
  });

  router.put('/v1/payment-methods/:method/settings', auth, async (ctx) => {
    const m = engine.method(ctx.params.method!);
    if (!m) throw notFound('Payment method', 'unknown_method');
    const b = body(ctx);
    const { enabled, ...raw } = b;
    if (enabled !== undefined && typeof enabled !== 'boolean') throw invalid('enabled', 'must be true or false');
    let settings: unknown = raw;
    if (m.settingsSchema) {
      const r = m.settingsSchema.safeParse(raw);
      if (!r.success) throw new ValidationError(r.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message })));
      settings = r.data;
    }
    const merchantId = mid(ctx);
    const row = {
      merchant_id: merchantId, method: m.id, enabled: enabled ?? true,
      settings_enc: d.keyring.encrypt(JSON.stringify(settings), `method:${merchantId}:${m.id}`), updated_at: d.clock.now().toISOString(),
    };
    await db('method_settings').insert(row).onConflict(['merchant_id', 'method']).merge();
    engine.invalidateCaches();
    await engine.audit({ merchantId, actor: 'merchant', action: 'payment_method.settings_updated', data: { method: m.id } });
    const masked: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(settings as Record<string, unknown>)) masked[k] = m.secretSettings?.includes(k) ? '********' : v;
    ctx.body = { method: m.id, enabled: row.enabled, configured: true, settings: masked };
  });

  router.get('/v1/events', auth, async (ctx) => {
    const q = ctx.query;
    let qb = db('events').where({ merchant_id: mid(ctx) });
    if (q.type) qb = qb.where({ type: String(q.type) });
    if (q.order_id) qb = qb.where({ entity_id: String(q.order_id) });
    const r = await page<{ id: string; created_at: string; type: string; entity_id: string; data: string }>(qb, 'events', db, intParam(q.limit, 'limit', 1, 100, 20), q.starting_after ? String(q.starting_after) : undefined);
    ctx.body = {
      object: 'list', has_more: r.has_more,
      data: r.data.map((e) => ({ id: e.id, type: e.type, entity_id: e.entity_id, created_at: e.created_at, ...parseJson<Record<string, unknown>>(e.data, {}) })),
    };
  });

  router.get('/v1/webhook-deliveries', auth, async (ctx) => {
    const q = ctx.query;
    let qb = db('webhook_deliveries').where({ merchant_id: mid(ctx) });
    if (q.status) qb = qb.where({ status: String(q.status) });
    const r = await page<Record<string, unknown> & { id: string; created_at: string }>(qb, 'webhook_deliveries', db, intParam(q.limit, 'limit', 1, 100, 20), q.starting_after ? String(q.starting_after) : undefined);
    ctx.body = {
      object: 'list', has_more: r.has_more,
      data: r.data.map((w) => ({
        id: w.id, event_id: w.event_id, url: w.url, status: w.status, attempts: w.attempts, next_attempt_at: w.next_attempt_at,
        last_status_code: w.last_status_code, last_error: w.last_error, created_at: w.created_at, updated_at: w.updated_at,
      })),
    };
  });

  router.post('/v1/webhook-deliveries/:id/retry', auth, idempotent, async (ctx) => {
    ctx.body = await engine.retryWebhookDelivery(mid(ctx), ctx.params.id!);
  });

  router.get('/v1/balance', auth, async (ctx) => {
    ctx.body = { object: 'balance', balances: await balances(db, mid(ctx)) };
  });

  router.get('/v1/ledger/entries', auth, async (ctx) => {
    const q = ctx.query;
    const limit = intParam(q.limit, 'limit', 1, 500, 100);
    let qb = db('ledger_entries').where({ merchant_id: mid(ctx) });
    if (q.ref_id) qb = qb.where({ ref_id: String(q.ref_id) });
    if (q.starting_after) qb = qb.where('id', '<', intParam(q.starting_after, 'starting_after', 1, Number.MAX_SAFE_INTEGER, 0));
    const rows = await qb.orderBy('id', 'desc').limit(limit + 1);
    ctx.body = {
      object: 'list', has_more: rows.length > limit,
      data: rows.slice(0, limit).map((e: Record<string, unknown>) => ({
        id: e.id, posting_id: e.posting_id, account: e.account, currency: e.currency, debit: Number(e.debit), credit: Number(e.credit),
        kind: e.kind, ref_id: e.ref_id, created_at: e.created_at,
      })),
    };
  });

  // Where a buyer lands after a provider or 3-D Secure page. Public: the attempt id is unguessable.
  const onReturn: Middleware = async (ctx) => {
    const params: Record<string, string> = {};
    const src = { ...(ctx.query as Record<string, unknown>), ...(((ctx.request as { body?: unknown }).body as Record<string, unknown>) ?? {}) };
    for (const [k, v] of Object.entries(src)) if (typeof v === 'string' && k.length <= 64) params[k] = v.slice(0, 4096);
    const a = await db<AttemptRow>('payment_attempts').where({ id: ctx.params.id }).first();
    if (!a) throw notFound('Payment', 'payment_not_found');
    await engine.completeAction(a.id, params, requestInfo(ctx, runtime, d.countryHeader));
    const o = (await db<OrderRow>('orders').where({ id: a.order_id }).first())!;
    ctx.set('Cache-Control', 'no-store');
    const lang = parseJson<{ lang?: unknown }>(a.method_data, {}).lang;
    if (d.hasPayPage()) return ctx.redirect(`/pay/${o.id}${typeof lang === 'string' && /^[a-z]{2}$/.test(lang) ? `?lang=${lang}` : ''}`);
    if (o.return_url) {
      const u = new URL(o.return_url);
      u.searchParams.set('order_id', o.id);
      u.searchParams.set('status', o.status);
      return ctx.redirect(u.toString());
    }
    ctx.type = 'text/plain';
    ctx.body = `Order ${o.order_number}: ${o.status}`;
  };
  router.get('/return/:id', onReturn);
  router.post('/return/:id', onReturn);

  // Operator API.
  router.post('/v1/admin/merchants', d.requireAdmin, async (ctx) => {
    const b = body(ctx);
    const allowed = ['name', 'mode', 'notify_url', 'currencies', 'direct_card_input', 'bank_adapter', 'fee_bps'];
    for (const k of Object.keys(b)) if (!allowed.includes(k)) throw invalid(k, 'unknown field');
    if (b.mode !== undefined && b.mode !== 'test' && b.mode !== 'live') throw invalid('mode', 'must be "test" or "live"');
    if (typeof b.name !== 'string') throw invalid('name', 'is required');
    if (b.fee_bps !== undefined && (!Number.isInteger(b.fee_bps) || (b.fee_bps as number) < 0 || (b.fee_bps as number) > 10_000)) throw invalid('fee_bps', 'must be 0 to 10000');
    const created = await createMerchant(db, d.keyring, d.clock.now().toISOString(), {
      name: b.name, mode: b.mode as 'test' | 'live' | undefined, notifyUrl: b.notify_url as string | undefined,
      currencies: b.currencies as string[] | undefined, directCardInput: b.direct_card_input as boolean | undefined,
      bankAdapter: b.bank_adapter as string | undefined, feeBps: b.fee_bps as number | undefined,
    });
    ctx.status = 201;
    ctx.body = created;
  });

  router.get('/v1/admin/merchants', d.requireAdmin, async (ctx) => {
    const rows = await db('merchants').select('id', 'name', 'mode', 'status', 'currencies', 'bank_adapter', 'created_at').orderBy('created_at', 'desc').limit(500);
    ctx.body = { object: 'list', data: rows.map((r: Record<string, unknown>) => ({ ...r, currencies: parseJson(r.currencies as string, []) })) };
  });
}
