import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type {
  AttemptStatus, AttemptView, MerchantView, MethodContext, MethodOutcome, OrderStatus, OrderView, PaymentMethod,
  RefundOutcome, RequestInfo, RiskCheck,
} from '../sdk/payments';
import type { BankContractStore, Clock, CreateOrderInput, Keyring, PaymentsService, Runtime } from '../sdk/services';
import { isKnownCurrency, isValidAmount, MAX_AMOUNT } from '../sdk/money';
import { newId } from '../sdk/util';
import { conflict, invalid, notFound, PayhubError, ValidationError, type FieldError } from '../errors';
import { durableRead, forUpdate, isUniqueViolation, kindOf } from '../db/knex';
import {
  attemptJson, attemptView, merchantView, orderJson, orderView, parseJson, refundJson,
  type AttemptRow, type MerchantRow, type OrderRow, type RefundRow,
} from './rows';
import { attemptStatusFor, canAttempt, canOrder, orderStatusFor, OPEN_ATTEMPT, TERMINAL_ATTEMPT } from './state';
import { accounts, post } from './ledger';
import { emit } from './outbox';
import { validateNotifyUrl } from './merchants';
import type { HubConfig } from '../config/schema';

type Trx = Knex.Transaction;
/** A row of the `transitions` audit table. */
type Transition = { entity: string; entity_id: string; from_status: string | null; to_status: string; cause: string; at: string };

export interface EngineDeps {
  db: Knex;
  keyring: Keyring;
  clock: Clock;
  config: HubConfig;
  runtime: Runtime;
  logger: Logger;
  methods: () => PaymentMethod[];
  riskChecks: () => RiskCheck[];
  bankContracts?: () => BankContractStore | null;
  /** Sends one webhook delivery now. */
  deliverWebhook?: (deliveryId: string) => Promise<void>;
  onAttempt?: (method: string, status: AttemptStatus) => void;
}

const ORDER_KEYS = new Set(['order_number', 'amount', 'currency', 'description', 'capture', 'return_url', 'notify_url', 'customer', 'metadata', 'expires_in']);
const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;
const PHONE_RE = /^\+?[0-9]{7,15}$/;
/** How long the payment path reuses a merchant row or a method's settings (auth.ts keeps API keys as long). */
const CACHE_TTL_MS = 2000;

/** The payments engine: orders, attempts, captures, refunds; one transaction per state change. */
export class PaymentsEngine implements PaymentsService {
  private methodMap: Map<string, PaymentMethod> | null = null;
  private merchantCache = new Map<string, { row: MerchantRow; until: number }>();
  private settingsCache = new Map<string, { enabled: boolean; json: string | null; until: number }>();

  constructor(private readonly d: EngineDeps) {}

  get db(): Knex {
    return this.d.db;
  }

  now(): string {
    return this.d.clock.now().toISOString();
  }

  methods(): Map<string, PaymentMethod> {
    if (!this.methodMap) this.methodMap = new Map(this.d.methods().map((m) => [m.id, m]));
    return this.methodMap;
  }

  method(id: string): PaymentMethod | undefined {
    return this.methods().get(id);
  }

  /* ---------------------------------------------------------------- reads */

  async merchantRow(id: string, q: Knex | Trx = this.d.db): Promise<MerchantRow | undefined> {
    return q<MerchantRow>('merchants').where({ id }).first();
  }

  /**
   * The merchant row on the payment path, reused for CACHE_TTL_MS. Merchant and settings changes go through
   * MerchantAdmin and the settings API, which call invalidateCaches(), so this process sees them at once; another
   * hub process sharing the database sees them within the TTL, as it does for API keys. Inside a transaction a miss
   * reads through it (SQLite has one connection).
   */
  private async cachedMerchant(id: string, q: Knex | Trx = this.d.db): Promise<MerchantRow | undefined> {
    const now = Date.now();
    const c = this.merchantCache.get(id);
    if (c && c.until > now) return c.row;
    const row = await this.merchantRow(id, q);
    if (row) {
      if (this.merchantCache.size > 10_000) this.merchantCache.clear();
      this.merchantCache.set(id, { row, until: now + CACHE_TTL_MS });
    }
    return row;
  }

  /** Forgets cached merchant rows and method settings (called on every change to them). */
  invalidateCaches(): void {
    this.merchantCache.clear();
    this.settingsCache.clear();
  }

  /** A method's settings row of a merchant (enabled flag, decrypted settings JSON), reused for CACHE_TTL_MS. */
  private async methodSettingsRow(merchantId: string, method: string): Promise<{ enabled: boolean; json: string | null }> {
    const k = `${merchantId}\n${method}`;
    const now = Date.now();
    const c = this.settingsCache.get(k);
    if (c && c.until > now) return c;
    const r = await this.d.db('method_settings').where({ merchant_id: merchantId, method }).first();
    const v = { enabled: !r || !!r.enabled, json: r ? this.d.keyring.decrypt(r.settings_enc, `method:${merchantId}:${method}`) : null, until: now + CACHE_TTL_MS };
    if (this.settingsCache.size > 10_000) this.settingsCache.clear();
    this.settingsCache.set(k, v);
    return v;
  }

  async getMerchant(merchantId: string): Promise<MerchantView | null> {
    const r = await this.merchantRow(merchantId);
    return r ? merchantView(r) : null;
  }

  async getOrder(orderId: string): Promise<OrderView | null> {
    const r = await this.d.db<OrderRow>('orders').where({ id: orderId }).first();
    return r ? orderView(r) : null;
  }

  async getAttempt(attemptId: string): Promise<AttemptView | null> {
    const r = await this.d.db<AttemptRow>('payment_attempts').where({ id: attemptId }).first();
    return r ? attemptView(r) : null;
  }

  async listAttempts(orderId: string): Promise<AttemptView[]> {
    const rows = await this.d.db<AttemptRow>('payment_attempts').where({ order_id: orderId }).orderBy('created_at');
    return rows.map(attemptView);
  }

  async findOrderByNumber(merchantId: string, orderNumber: string): Promise<OrderView | null> {
    const r = await this.d.db<OrderRow>('orders').where({ merchant_id: merchantId, order_number: orderNumber }).first();
    return r ? orderView(r) : null;
  }

  /** Order row of a merchant or 404 (another merchant's order is indistinguishable from a missing one). */
  async ownOrder(merchantId: string, orderId: string, q: Knex | Trx = this.d.db): Promise<OrderRow> {
    const r = await q<OrderRow>('orders').where({ id: orderId, merchant_id: merchantId }).first();
    if (!r) throw notFound('Order', 'order_not_found');
    return r;
  }

  async orderWithDetails(o: OrderRow) {
    const [attempts, refunds] = await Promise.all([
      this.d.db<AttemptRow>('payment_attempts').where({ order_id: o.id }).orderBy('created_at'),
      this.d.db<RefundRow>('refunds').where({ order_id: o.id }).orderBy('created_at'),
    ]);
    return orderJson(o, this.d.runtime.baseUrl(), attempts, refunds);
  }

  async getMethodSettings(merchantId: string, method: string): Promise<Record<string, unknown> | null> {
    const r = await this.methodSettingsRow(merchantId, method);
    return r.json === null ? null : JSON.parse(r.json);
  }

  async audit(e: { merchantId?: string; actor: string; action: string; data?: Record<string, unknown> }): Promise<void> {
    await this.d.db('audit_log').insert({
      merchant_id: e.merchantId ?? null, actor: e.actor, action: e.action, data: JSON.stringify(e.data ?? {}), at: this.now(),
    });
  }

  /* ---------------------------------------------------------------- orders */

  validateOrderInput(merchant: MerchantView, input: Record<string, unknown>): CreateOrderInput {
    const errors: FieldError[] = [];
    for (const k of Object.keys(input)) if (!ORDER_KEYS.has(k)) errors.push({ field: k, message: 'unknown field' });
    const on = input.order_number;
    if (typeof on !== 'string' || !/^[A-Za-z0-9._:\-/#]{1,64}$/.test(on)) {
      errors.push({ field: 'order_number', message: 'must be 1 to 64 characters of letters, digits and ._:-/#' });
    }
    const amount = input.amount;
    if (typeof amount !== 'number' || !Number.isInteger(amount)) errors.push({ field: 'amount', message: 'must be an integer number of minor units' });
    else if (!isValidAmount(amount)) errors.push({ field: 'amount', message: `must be between 1 and ${MAX_AMOUNT} minor units` });
    const currency = input.currency;
    if (typeof currency !== 'string' || !isKnownCurrency(currency)) errors.push({ field: 'currency', message: 'must be a known ISO 4217 code' });
    else if (!merchant.currencies.includes(currency)) errors.push({ field: 'currency', message: `the merchant does not accept ${currency}` });
    if (input.description !== undefined && (typeof input.description !== 'string' || input.description.length > 1000)) {
      errors.push({ field: 'description', message: 'must be a string of at most 1000 characters' });
    }
    if (input.capture !== undefined && input.capture !== 'automatic' && input.capture !== 'manual') {
      errors.push({ field: 'capture', message: 'must be "automatic" or "manual"' });
    }
    for (const f of ['return_url', 'notify_url'] as const) {
      if (input[f] !== undefined && input[f] !== null) {
        try {
          if (typeof input[f] !== 'string') throw new Error();
          validateNotifyUrl(input[f] as string, f);
        } catch {
          errors.push({ field: f, message: 'must be an absolute http(s) URL' });
        }
      }
    }
    const c = input.customer;
    if (c !== undefined) {
      if (typeof c !== 'object' || c === null || Array.isArray(c)) errors.push({ field: 'customer', message: 'must be an object' });
      else {
        const cu = c as Record<string, unknown>;
        for (const k of Object.keys(cu)) if (k !== 'email' && k !== 'phone') errors.push({ field: `customer.${k}`, message: 'unknown field' });
        if (cu.email !== undefined && (typeof cu.email !== 'string' || !EMAIL_RE.test(cu.email))) errors.push({ field: 'customer.email', message: 'must be an e-mail address' });
        if (cu.phone !== undefined && (typeof cu.phone !== 'string' || !PHONE_RE.test(cu.phone))) errors.push({ field: 'customer.phone', message: 'must be a phone number in international format' });
      }
    }
    const md = input.metadata;
    if (md !== undefined && (typeof md !== 'object' || md === null || Array.isArray(md) || JSON.stringify(md).length > 8192)) {
      errors.push({ field: 'metadata', message: 'must be an object of at most 8 KB' });
    }
    const ei = input.expires_in;
    if (ei !== undefined && (typeof ei !== 'number' || !Number.isInteger(ei) || ei < 60 || ei > 30 * 86400)) {
      errors.push({ field: 'expires_in', message: 'must be whole seconds between 60 and 2592000' });
    }
    if (errors.length) throw new ValidationError(errors);
    return input as unknown as CreateOrderInput;
  }

  async createOrder(merchantId: string, raw: CreateOrderInput): Promise<OrderView> {
    const r = await this.createOrderRow(merchantId, raw as unknown as Record<string, unknown>);
    return orderView(r);
  }

  /** `first` runs first inside the transaction that stores the order (the route records its Idempotency-Key there). */
  async createOrderRow(merchantId: string, raw: Record<string, unknown>, first?: (trx: Trx, row: OrderRow) => Promise<void>): Promise<OrderRow> {
    const m = await this.cachedMerchant(merchantId);
    if (!m) throw notFound('Merchant', 'merchant_not_found');
    const input = this.validateOrderInput(merchantView(m), raw);
    const at = this.now();
    const row: OrderRow = {
      id: newId('ord'), merchant_id: merchantId, mode: m.mode, order_number: input.order_number, amount: input.amount,
      currency: input.currency, description: input.description ?? '', capture_mode: input.capture ?? 'automatic',
      status: 'created', return_url: input.return_url ?? null, notify_url: input.notify_url ?? null,
      customer: JSON.stringify(input.customer ?? {}), metadata: JSON.stringify(input.metadata ?? {}),
      amount_authorized: 0, amount_captured: 0, amount_refunded: 0, version: 1,
      expires_at: new Date(Date.parse(at) + 1000 * (input.expires_in ?? this.d.config.orders.defaultExpiresIn)).toISOString(),
      created_at: at, updated_at: at,
    };
    try {
      await this.d.db.transaction(async (trx) => {
        if (first) await first(trx, row);
        await trx('orders').insert(row);
        await trx('transitions').insert({ entity: 'order', entity_id: row.id, from_status: null, to_status: 'created', cause: 'api.create', at });
        await emit(trx, {
          merchantId, type: 'order.created', entityId: row.id, entityVersion: 1, at,
          data: orderJson(row, this.d.runtime.baseUrl()), notifyUrl: row.notify_url ?? m.notify_url,
        });
      });
    } catch (e) {
      if (isUniqueViolation(e)) {
        throw conflict('order_number_taken', `order_number ${JSON.stringify(input.order_number)} is already used by another order`);
      }
      throw e;
    }
    return row;
  }

  /* ------------------------------------------------------- transitions (in a trx) */

  private async lockOrder(trx: Trx, id: string): Promise<OrderRow> {
    const r = await forUpdate(this.d.db, trx<OrderRow>('orders').where({ id })).first();
    if (!r) throw notFound('Order', 'order_not_found');
    return r as OrderRow;
  }

  private async lockAttempt(trx: Trx, id: string): Promise<AttemptRow> {
    const r = await forUpdate(this.d.db, trx<AttemptRow>('payment_attempts').where({ id })).first();
    if (!r) throw notFound('Payment', 'payment_not_found');
    return r as AttemptRow;
  }

  /**
   * Moves an order to `to` (checked against the table), records it and emits `order.<to>`. `before`: transitions
   * recorded earlier in the transaction, written by the same statement as the order's own.
   */
  private async moveOrder(trx: Trx, o: OrderRow, to: OrderStatus, cause: string, patch: Partial<OrderRow> = {}, attempt?: AttemptRow, before: Transition[] = []): Promise<OrderRow> {
    const at = this.now();
    if (o.status === to) {
      if (before.length) await trx('transitions').insert(before);
      if (Object.keys(patch).length) {
        await trx('orders').where({ id: o.id }).update({ ...patch, updated_at: at });
        return { ...o, ...patch, updated_at: at };
      }
      return o;
    }
    if (!canOrder(o.status, to)) {
      throw conflict('invalid_transition', `order ${o.id} cannot go from ${o.status} to ${to}`);
    }
    const next: OrderRow = { ...o, ...patch, status: to, version: o.version + 1, updated_at: at };
    const n = await trx('orders').where({ id: o.id, version: o.version }).update({ ...patch, status: to, version: next.version, updated_at: at });
    if (n !== 1) throw conflict('concurrent_update', `order ${o.id} changed concurrently`);
    await trx('transitions').insert([...before, { entity: 'order', entity_id: o.id, from_status: o.status, to_status: to, cause, at }]);
    const m = o.notify_url ? null : await this.cachedMerchant(o.merchant_id, trx);
    await emit(trx, {
      merchantId: o.merchant_id, type: `order.${to}`, entityId: o.id, entityVersion: next.version, at,
      data: { ...orderJson(next, this.d.runtime.baseUrl()), ...(attempt ? { payment: attemptJson(attempt) } : {}) },
      notifyUrl: o.notify_url ?? m?.notify_url ?? null,
    });
    return next;
  }

  /** With `defer`, the transition row is pushed there for the caller to write (with the order's, in one statement). */
  private async moveAttempt(trx: Trx, a: AttemptRow, to: AttemptStatus, cause: string, patch: Partial<AttemptRow> = {}, defer?: Transition[]): Promise<AttemptRow> {
    const at = this.now();
    if (a.status !== to && !canAttempt(a.status, to)) {
      throw conflict('invalid_transition', `payment ${a.id} cannot go from ${a.status} to ${to}`);
    }
    const next: AttemptRow = { ...a, ...patch, status: to, updated_at: at };
    await trx('payment_attempts').where({ id: a.id }).update({ ...patch, status: to, updated_at: at });
    if (a.status !== to) {
      const t: Transition = { entity: 'attempt', entity_id: a.id, from_status: a.status, to_status: to, cause, at };
      if (defer) defer.push(t);
      else await trx('transitions').insert(t);
      this.d.onAttempt?.(a.method, to);
    }
    return next;
  }

  private nextCheck(count: number): string {
    const s = this.d.config.resolver.schedule;
    const secs = (s[Math.min(count, s.length - 1)] ?? 60) * this.d.config.resolver.scheduleScale;
    return new Date(this.d.clock.now().getTime() + Math.max(0, Math.round(secs * 1000))).toISOString();
  }

  /**
   * Applies an outcome to an attempt and its order in one transaction: attempt status, order status, ledger
   * postings and events. A duplicate or stale outcome (terminal attempt, same status) changes nothing.
   */
  private async applyOutcomeTx(trx: Trx, attemptId: string, outcome: MethodOutcome, cause: string, orderId?: string): Promise<AttemptRow> {
    // Lock order first, then attempt: one lock order everywhere, so PostgreSQL never deadlocks.
    if (orderId === undefined) {
      const a0 = await trx<AttemptRow>('payment_attempts').where({ id: attemptId }).first();
      if (!a0) throw notFound('Payment', 'payment_not_found');
      orderId = a0.order_id;
    }
    const o0 = await this.lockOrder(trx, orderId);
    const a = await this.lockAttempt(trx, attemptId);
    if (a.order_id !== o0.id) throw notFound('Payment', 'payment_not_found');
    const to = attemptStatusFor(outcome);
    if (TERMINAL_ATTEMPT.has(a.status) || (a.status === 'authorized' && to !== 'captured')) {
      if (a.status === 'canceled' && outcome.kind === 'processed') {
        await trx('audit_log').insert({
          merchant_id: a.merchant_id, actor: 'system', action: 'payment.late_success',
          data: JSON.stringify({ payment: a.id, cause }), at: this.now(),
        });
      }
      return a;
    }
    if (a.status === to && to !== 'requires_action' && to !== 'pending') return a;
    const patch: Partial<AttemptRow> = {};
    if ('providerRef' in outcome && outcome.providerRef) patch.provider_ref = outcome.providerRef;
    if ('methodData' in outcome && outcome.methodData) {
      patch.method_data = JSON.stringify({ ...parseJson(a.method_data, {}), ...outcome.methodData });
    }
    if (outcome.kind === 'requires_action') {
      patch.next_action = JSON.stringify(outcome.nextAction);
      patch.action_expires_at = (outcome.actionExpiresAt ?? new Date(this.d.clock.now().getTime() + 15 * 60_000)).toISOString();
    } else if (outcome.kind === 'pending' && outcome.nextAction) {
      patch.next_action = JSON.stringify(outcome.nextAction);
    } else if (to !== 'pending' && to !== 'unknown') {
      patch.next_action = null;
    }
    if (outcome.kind === 'declined') {
      patch.decline_reason = outcome.reason.slice(0, 200);
      patch.decline_message = outcome.message ?? null;
    }
    if (outcome.kind === 'not_sent') patch.decline_reason = `not_sent:${outcome.reason}`.slice(0, 200);
    if (outcome.kind === 'canceled') patch.decline_reason = outcome.reason ?? 'canceled';
    if (to === 'pending' || to === 'unknown') {
      patch.next_check_at = this.nextCheck(a.check_count);
    } else if (to === 'requires_action') {
      // Poll the provider while the buyer acts (a lost notification is found without waiting for the expiry).
      patch.next_check_at = this.method(a.method)?.status ? this.nextCheck(a.check_count) : null;
    } else {
      patch.next_check_at = null;
    }
    const at = this.now();
    let captured = 0;
    let authorized = 0;
    if (to === 'captured') {
      captured = a.status === 'authorized' ? Number(a.pending_amount ?? a.amount) : Number(a.amount);
      patch.amount_captured = captured;
      patch.pending_op = null;
      patch.pending_amount = null;
    }
    if (to === 'authorized') authorized = Number(a.amount);
    const deferred: Transition[] = [];
    const next = await this.moveAttempt(trx, a, to, cause, patch, deferred);

    // Ledger.
    if (to === 'authorized') {
      await post(trx, {
        kind: 'authorization', merchantId: a.merchant_id, currency: a.currency, refId: a.id, at,
        legs: [{ account: accounts.holds, debit: authorized }, { account: accounts.pending(a.merchant_id), credit: authorized }],
      });
    }
    if (to === 'captured') await this.postCapture(trx, a, captured, at);

    // Order.
    const o = o0;
    let orderTo = orderStatusFor(to);
    const orderPatch: Partial<OrderRow> = {};
    if (to === 'captured') orderPatch.amount_captured = captured;
    if (to === 'authorized') orderPatch.amount_authorized = authorized;
    if (orderTo === 'created' && Date.parse(o.expires_at) <= this.d.clock.now().getTime()) orderTo = 'expired';
    if (o.status !== orderTo && canOrder(o.status, orderTo)) {
      await this.moveOrder(trx, o, orderTo, cause, orderPatch, next, deferred);
    } else {
      if (deferred.length) await trx('transitions').insert(deferred);
      if (Object.keys(orderPatch).length) await trx('orders').where({ id: o.id }).update({ ...orderPatch, updated_at: at });
    }
    if (to === 'declined' || to === 'failed') {
      const m = await this.cachedMerchant(a.merchant_id, trx);
      await emit(trx, {
        merchantId: a.merchant_id, type: `payment.${to}`, entityId: a.id, entityVersion: 1, at,
        data: attemptJson(next), notifyUrl: o.notify_url ?? m?.notify_url ?? null,
      });
    }
    return next;
  }

  private async postCapture(trx: Trx, a: AttemptRow, captured: number, at: string): Promise<void> {
    if (a.status === 'authorized') {
      const held = Number(a.amount);
      await post(trx, {
        kind: 'release', merchantId: a.merchant_id, currency: a.currency, refId: a.id, at,
        legs: [{ account: accounts.pending(a.merchant_id), debit: held }, { account: accounts.holds, credit: held }],
      });
    }
    await post(trx, {
      kind: 'capture', merchantId: a.merchant_id, currency: a.currency, refId: a.id, at,
      legs: [{ account: accounts.acquirer(a.method), debit: captured }, { account: accounts.available(a.merchant_id), credit: captured }],
    });
    const m = await this.cachedMerchant(a.merchant_id, trx);
    const fee = Math.floor((captured * (m?.fee_bps ?? 0)) / 10_000);
    if (fee > 0) {
      await post(trx, {
        kind: 'fee', merchantId: a.merchant_id, currency: a.currency, refId: a.id, at,
        legs: [{ account: accounts.available(a.merchant_id), debit: fee }, { account: accounts.fees, credit: fee }],
      });
    }
  }

  /**
   * Returns the fee in proportion to what is refunded (the whole fee once the payment is fully refunded), so a
   * refund never takes the merchant's available balance below zero (G3).
   */
  private async reverseFee(trx: Trx, a: AttemptRow, refunded: number, refundId: string, at: string): Promise<void> {
    const captured = Number(a.amount_captured);
    if (captured <= 0) return;
    const row = await trx('ledger_entries').where({ kind: 'fee', ref_id: a.id, account: accounts.fees }).sum({ f: 'credit' }).first();
    const fee = Number((row as { f: unknown } | undefined)?.f ?? 0);
    if (fee <= 0) return;
    const before = Number(a.amount_refunded);
    const after = Math.min(captured, before + refunded);
    const due = (n: number) => (n >= captured ? fee : Math.floor((fee * n) / captured));
    const back = due(after) - due(before);
    if (back <= 0) return;
    await post(trx, {
      kind: 'fee_reversal', merchantId: a.merchant_id, currency: a.currency, refId: refundId, at,
      legs: [{ account: accounts.fees, debit: back }, { account: accounts.available(a.merchant_id), credit: back }],
    });
  }

  async applyOutcome(attemptId: string, outcome: MethodOutcome, cause: string): Promise<AttemptView> {
    const r = await this.d.db.transaction((trx) => this.applyOutcomeTx(trx, attemptId, outcome, cause));
    return attemptView(r);
  }

  /* ---------------------------------------------------------------- attempts */

  private async methodContext(a: AttemptRow, request?: RequestInfo, order?: OrderRow): Promise<{ method: PaymentMethod; ctx: MethodContext }> {
    const method = this.method(a.method);
    if (!method) throw new PayhubError('method_unavailable', `payment method ${a.method} is not installed`, { status: 409 });
    const [m, o, settings] = await Promise.all([
      this.cachedMerchant(a.merchant_id),
      order ?? this.d.db<OrderRow>('orders').where({ id: a.order_id }).first(),
      this.getMethodSettings(a.merchant_id, a.method),
    ]);
    const contracts = this.d.bankContracts?.() ?? null;
    const bankCredentials = contracts ? await contracts.credentials(m!.id, m!.bank_adapter) : null;
    let ov = orderView(o!);
    // A payment held for risk review is only authorized, whatever the order asked for.
    if (parseJson<Record<string, unknown>>(a.method_data, {}).risk_review === 'pending') ov = { ...ov, captureMode: 'manual' };
    return {
      method,
      ctx: {
        merchant: merchantView(m!), order: ov, attempt: attemptView(a), settings: settings ?? {},
        idempotencyKey: a.id, bankCredentials, request: request ?? { baseUrl: this.d.runtime.baseUrl() },
        logger: this.d.logger.child({ method: a.method, payment: a.id }),
      },
    };
  }

  /** Calls a provider and turns a thrown error into `unknown` (the call may have happened). */
  private async callProvider<T>(what: string, fn: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.d.logger.warn({ what, err: (e as Error).message }, 'provider call threw; outcome unknown');
      return fallback;
    }
  }

  async startAttempt(args: {
    merchantId: string; orderId: string; method: string; input: Record<string, unknown>; source: 'api' | 'page'; request?: RequestInfo;
  }): Promise<AttemptView> {
    return attemptView(await this.startAttemptRow(args));
  }

  /**
   * `claim` runs first in the first transaction that writes (the route claims its Idempotency-Key): in phase 1 when
   * the method's `prepare` writes nothing, else in a transaction of its own before `prepare`. `last` runs last
   * inside the transaction that records the outcome (the route stores its idempotent response).
   */
  async startAttemptRow(args: {
    merchantId: string; orderId: string; method: string; input: Record<string, unknown>; source: 'api' | 'page'; request?: RequestInfo;
    claim?: (trx: Trx) => Promise<void>;
    last?: (trx: Trx, row: AttemptRow) => Promise<void>;
  }): Promise<AttemptRow> {
    const mrow = await this.cachedMerchant(args.merchantId);
    if (!mrow) throw notFound('Merchant', 'merchant_not_found');
    const merchant = merchantView(mrow);
    const order = await durableRead(this.d.db, (q) => this.ownOrder(args.merchantId, args.orderId, q));
    if (typeof args.method !== 'string') throw invalid('method', 'is required');
    const method = this.method(args.method);
    if (!method) throw invalid('method', `unknown payment method ${JSON.stringify(args.method)}`, 'unknown_method');
    const settings = await this.getMethodSettings(merchant.id, method.id);
    if (!(await this.isEnabled(merchant, method, settings))) {
      throw invalid('method', `payment method ${method.id} is not enabled for this merchant`, 'method_not_enabled');
    }
    if (method.currencies && !method.currencies.includes(order.currency)) {
      throw invalid('method', `payment method ${method.id} does not take ${order.currency}`, 'currency_not_supported');
    }
    this.assertPayable(order);
    const claimInPhase1 = method.prepareIsReadOnly === true;
    if (args.claim && !claimInPhase1) await this.d.db.transaction((trx) => args.claim!(trx));
    const prepared = await method.prepare({ merchant, order: orderView(order), settings: settings ?? {}, request: args.request }, args.input, args.source);
    const at = this.now();
    const attempt: AttemptRow = {
      id: newId('pay'), order_id: order.id, merchant_id: merchant.id, method: method.id, status: 'pending',
      amount: Number(order.amount), currency: order.currency, amount_captured: 0, amount_refunded: 0, provider_ref: null,
      decline_reason: null, decline_message: null, next_action: null,
      method_data: JSON.stringify({ ...(prepared.methodData ?? {}), ...(args.source === 'page' && args.request?.lang ? { lang: args.request.lang } : {}) }),
      source: args.source, pending_op: null, pending_amount: null, check_count: 0,
      next_check_at: this.nextCheck(0), action_expires_at: null, created_at: at, updated_at: at,
    };
    // Phase 1: claim the order (created → processing) and store the attempt. Concurrent starts: one wins.
    const processing = await this.d.db.transaction(async (trx) => {
      if (args.claim && claimInPhase1) await args.claim(trx);
      const o = await this.lockOrder(trx, order.id);
      this.assertPayable(o);
      await trx('payment_attempts').insert(attempt);
      const started: Transition = { entity: 'attempt', entity_id: attempt.id, from_status: null, to_status: 'pending', cause: `${args.source}.start`, at };
      return this.moveOrder(trx, o, 'processing', 'payment.started', {}, attempt, [started]);
    });
    // Risk checks before anything reaches the provider: deny declines without a provider call; review sends the
    // payment as an authorization only and holds it until the merchant approves (capture) or rejects (void).
    let review: string | null = null;
    for (const rc of this.d.riskChecks()) {
      const decision = await rc.check({
        merchant, order: orderView({ ...order, status: 'processing' }), attempt: attemptView(attempt), method: method.id,
        methodData: prepared.methodData ?? {}, request: args.request,
      });
      if (decision.decision === 'deny') {
        return this.d.db.transaction(async (trx) => {
          const r = await this.applyOutcomeTx(trx, attempt.id, { kind: 'declined', reason: 'risk_denied', message: decision.reason }, `risk.${rc.id}`, order.id);
          if (args.last) await args.last(trx, r);
          return r;
        });
      }
      if (decision.decision === 'review' && !review) review = rc.id;
    }
    if (review) {
      attempt.method_data = JSON.stringify({ ...parseJson(attempt.method_data, {}), risk_review: 'pending', risk_check: review });
      await this.d.db('payment_attempts').where({ id: attempt.id }).update({ method_data: attempt.method_data });
    }
    // Phase 2: the provider call, outside any transaction.
    const { ctx } = await this.methodContext(attempt, args.request, processing);
    const outcome = await this.callProvider('start', () => method.start(ctx, prepared.payload), { kind: 'unknown', reason: 'exception' } as MethodOutcome);
    // Phase 3: record the outcome.
    return this.d.db.transaction(async (trx) => {
      const r = await this.applyOutcomeTx(trx, attempt.id, outcome, `${method.id}.start`, order.id);
      if (args.last) await args.last(trx, r);
      return r;
    });
  }

  private assertPayable(o: OrderRow): void {
    if (o.status === 'created') {
      if (Date.parse(o.expires_at) <= this.d.clock.now().getTime()) throw conflict('order_expired', 'The order has expired');
      return;
    }
    if (o.status === 'processing' || o.status === 'requires_action') {
      throw conflict('payment_in_progress', 'A payment for this order is in progress');
    }
    if (o.status === 'expired') throw conflict('order_expired', 'The order has expired');
    throw conflict('order_not_payable', `The order is ${o.status}`);
  }

  async availableMethods(merchantId: string, currency: string): Promise<PaymentMethod[]> {
    const m = await this.cachedMerchant(merchantId);
    if (!m) return [];
    const merchant = merchantView(m);
    const out: PaymentMethod[] = [];
    for (const method of this.methods().values()) {
      if (!(method.currencies ?? merchant.currencies).includes(currency)) continue;
      try {
        if (await this.isEnabled(merchant, method, await this.getMethodSettings(merchantId, method.id))) out.push(method);
      } catch (e) {
        this.d.logger.warn({ method: method.id, err: (e as Error).message }, 'availability check failed');
      }
    }
    return out;
  }

  async demoMerchantId(): Promise<string | null> {
    const r = await this.d.db('merchants').where('settings', 'like', '%"demo":true%').orderBy('created_at').first('id');
    return r ? String(r.id) : null;
  }

  async isEnabled(merchant: MerchantView, method: PaymentMethod, settings: Record<string, unknown> | null): Promise<boolean> {
    if (!(await this.methodSettingsRow(merchant.id, method.id)).enabled) return false;
    if (method.isAvailable) return method.isAvailable(merchant, settings);
    return !method.settingsSchema || settings !== null;
  }

  async completeAction(attemptId: string, params: Record<string, string>, request?: RequestInfo): Promise<AttemptView> {
    const a = await this.d.db<AttemptRow>('payment_attempts').where({ id: attemptId }).first();
    if (!a) throw notFound('Payment', 'payment_not_found');
    if (a.status !== 'requires_action' && a.status !== 'pending') return attemptView(a);
    const { method, ctx } = await this.methodContext(a, request);
    if (!method.completeAction) return this.resolveAttempt(attemptId);
    const outcome = await this.callProvider('completeAction', () => method.completeAction!(ctx, params), { kind: 'unknown', reason: 'exception' } as MethodOutcome);
    return this.applyOutcome(attemptId, outcome, `${method.id}.return`);
  }

  /** Asks the provider where an open attempt stands and applies the answer. */
  async resolveAttempt(attemptId: string): Promise<AttemptView> {
    const a = await this.d.db<AttemptRow>('payment_attempts').where({ id: attemptId }).first();
    if (!a) throw notFound('Payment', 'payment_not_found');
    if (a.status === 'authorized' && a.pending_op) {
      await this.finishPendingOp(a);
      return (await this.getAttempt(attemptId))!;
    }
    if (!OPEN_ATTEMPT.has(a.status)) return attemptView(a);
    const { method, ctx } = await this.methodContext(a);
    let outcome: MethodOutcome = { kind: 'unknown', reason: 'no_status_api' };
    if (method.status) outcome = await this.callProvider('status', () => method.status!(ctx), { kind: 'unknown', reason: 'exception' } as MethodOutcome);
    const expired = a.status === 'requires_action' && a.action_expires_at && Date.parse(a.action_expires_at) <= this.d.clock.now().getTime();
    if (expired && (outcome.kind === 'requires_action' || outcome.kind === 'pending' || outcome.kind === 'unknown' || outcome.kind === 'not_sent')) {
      if (method.cancel) await this.callProvider('cancel', () => method.cancel!(ctx), { kind: 'unknown' } as MethodOutcome);
      outcome = { kind: 'canceled', reason: 'action_expired' };
    }
    if (a.status === 'requires_action' && !expired && ['requires_action', 'pending', 'unknown', 'not_sent'].includes(outcome.kind)) {
      // The buyer is still acting: keep the action as it is and look again later.
      const count = a.check_count + 1;
      await this.d.db('payment_attempts').where({ id: a.id, status: 'requires_action' }).update({ check_count: count, next_check_at: this.nextCheck(count) });
      return attemptView(a);
    }
    if (outcome.kind === 'not_sent' && a.status === 'requires_action') return attemptView(a);
    return this.d.db.transaction(async (trx) => {
      const r = await this.applyOutcomeTx(trx, attemptId, outcome, `${method.id}.status`);
      if (r.status === 'pending' || r.status === 'unknown') {
        const count = r.check_count + 1;
        await trx('payment_attempts').where({ id: r.id }).update({ check_count: count, next_check_at: this.nextCheck(count) });
      }
      return attemptView(r);
    });
  }

  /* ---------------------------------------------------------------- capture / cancel / refund */

  /**
   * Brings an order whose attempt is in flight to a known state before a capture/cancel/refund. A capture or void
   * whose claim is still live (next_check_at in the future: another request or the resolver is calling the bank)
   * is left alone; a stale one is taken over by moving its lease forward first, so only one caller re-sends it.
   */
  private async settleInFlight(o: OrderRow): Promise<OrderRow> {
    if (o.status !== 'processing' && o.status !== 'requires_action') return o;
    const open = await this.d.db<AttemptRow>('payment_attempts').where({ order_id: o.id })
      .where((q) => q.whereIn('status', ['pending', 'unknown', 'requires_action']).orWhereNotNull('pending_op'));
    const now = this.now();
    for (const a of open) {
      if (a.pending_op) {
        if (a.next_check_at !== null && a.next_check_at > now) continue;
        const taken = await this.d.db('payment_attempts').where({ id: a.id, pending_op: a.pending_op })
          .where((q) => (a.next_check_at === null ? q.whereNull('next_check_at') : q.where('next_check_at', a.next_check_at)))
          .update({ next_check_at: this.nextCheck(0) });
        if (taken !== 1) continue;
      }
      await this.resolveAttempt(a.id);
    }
    return (await this.d.db<OrderRow>('orders').where({ id: o.id }).first())!;
  }

  async capture(merchantId: string, orderId: string, amount?: number) {
    if (amount !== undefined && !isValidAmount(amount)) throw invalid('amount', 'must be a positive integer number of minor units');
    let o = await this.ownOrder(merchantId, orderId);
    o = await this.settleInFlight(o);
    if (o.status === 'paid' || o.status === 'partially_refunded' || o.status === 'refunded') throw conflict('already_captured', 'The order has been captured already');
    if (o.status === 'processing') throw conflict('capture_in_progress', 'A capture or void of this order is in progress');
    if (o.status !== 'authorized') throw conflict('order_not_capturable', `The order is ${o.status}; only an authorized order can be captured`);
    const claimed = await this.d.db.transaction(async (trx) => {
      const lo = await this.lockOrder(trx, o.id);
      if (lo.status !== 'authorized') throw conflict(lo.status === 'processing' ? 'capture_in_progress' : 'already_captured', `The order is ${lo.status}`);
      const a = await trx<AttemptRow>('payment_attempts').where({ order_id: o.id, status: 'authorized' }).first();
      if (!a) throw conflict('order_not_capturable', 'No authorized payment on this order');
      const amt = amount ?? Number(a.amount);
      if (amt > Number(a.amount)) throw conflict('amount_exceeds_authorized', `Capture amount ${amt} exceeds the authorized ${a.amount}`);
      const method = this.method(a.method);
      if (!method?.capture) throw conflict('capture_not_supported', `Method ${a.method} cannot capture`);
      if (amt !== Number(a.amount) && method.supports.partialCapture === false) throw conflict('partial_capture_not_supported', `Method ${a.method} cannot capture partially`);
      await trx('payment_attempts').where({ id: a.id }).update({ pending_op: 'capture', pending_amount: amt, next_check_at: this.nextCheck(0), updated_at: this.now() });
      await this.moveOrder(trx, lo, 'processing', 'capture.requested');
      return { ...a, pending_op: 'capture' as const, pending_amount: amt };
    });
    await this.finishPendingOp(claimed);
    const after = await this.ownOrder(merchantId, orderId);
    if (after.status === 'authorized') {
      const a = await this.d.db<AttemptRow>('payment_attempts').where({ id: claimed.id }).first();
      throw new PayhubError('capture_declined', `The bank declined the capture${a?.decline_reason ? `: ${a.decline_reason}` : ''}`, { status: 402 });
    }
    return this.orderWithDetails(after);
  }

  /** Runs (or re-runs, idempotently) the bank call of a claimed capture/void and records its outcome. */
  private async finishPendingOp(a: AttemptRow): Promise<void> {
    const { method, ctx } = await this.methodContext(a);
    const op = a.pending_op;
    if (!op) return;
    let outcome: MethodOutcome;
    if (op === 'capture') {
      outcome = await this.callProvider('capture', () => method.capture!(ctx, Number(a.pending_amount)), { kind: 'unknown', reason: 'exception' } as MethodOutcome);
    } else {
      outcome = method.cancel
        ? await this.callProvider('cancel', () => method.cancel!(ctx), { kind: 'unknown', reason: 'exception' } as MethodOutcome)
        : { kind: 'canceled' };
    }
    await this.d.db.transaction(async (trx) => {
      const lo = await this.lockOrder(trx, a.order_id);
      const la = await this.lockAttempt(trx, a.id);
      if (la.pending_op !== op) return;
      const at = this.now();
      const done = op === 'capture'
        ? outcome.kind === 'processed' && outcome.status === 'captured'
        : outcome.kind === 'canceled' || outcome.kind === 'processed';
      const refused = outcome.kind === 'declined' || outcome.kind === 'not_sent';
      if (done && op === 'capture') {
        const captured = Number(la.pending_amount);
        await this.postCapture(trx, la, captured, at);
        const na = await this.moveAttempt(trx, la, 'captured', 'capture.processed', { amount_captured: captured, pending_op: null, pending_amount: null, next_check_at: null });
        await this.moveOrder(trx, lo, 'paid', 'capture.processed', { amount_captured: captured }, na);
      } else if (done && op === 'void') {
        const held = Number(la.amount);
        await post(trx, {
          kind: 'void', merchantId: la.merchant_id, currency: la.currency, refId: la.id, at,
          legs: [{ account: accounts.pending(la.merchant_id), debit: held }, { account: accounts.holds, credit: held }],
        });
        const na = await this.moveAttempt(trx, la, 'canceled', 'void.processed', { pending_op: null, pending_amount: null, next_check_at: null });
        const target = lo.status === 'processing' && Date.parse(lo.expires_at) <= this.d.clock.now().getTime() && la.decline_reason === 'expired' ? 'expired' : 'canceled';
        await this.moveOrder(trx, lo, target, 'void.processed', {}, na);
      } else if (refused) {
        await trx('payment_attempts').where({ id: la.id }).update({
          pending_op: null, pending_amount: null, next_check_at: null, updated_at: at,
          decline_reason: outcome.kind === 'declined' ? `${op}_declined:${outcome.reason}`.slice(0, 200) : la.decline_reason,
        });
        await this.moveOrder(trx, lo, 'authorized', `${op}.refused`);
      } else {
        await trx('payment_attempts').where({ id: la.id }).update({ next_check_at: this.nextCheck(la.check_count), check_count: la.check_count + 1, updated_at: at });
      }
    });
  }

  async cancel(merchantId: string, orderId: string) {
    let o = await this.ownOrder(merchantId, orderId);
    o = await this.settleInFlight(o);
    if (o.status === 'created' || o.status === 'requires_action') {
      const open = await this.d.db<AttemptRow>('payment_attempts').where({ order_id: o.id, status: 'requires_action' });
      for (const a of open) {
        const { method, ctx } = await this.methodContext(a);
        if (!method.cancel) continue;
        const r = await this.callProvider('cancel', () => method.cancel!(ctx), { kind: 'unknown' } as MethodOutcome);
        if (r.kind === 'processed') {
          // The buyer paid while we were canceling: record the payment, refuse the cancel.
          await this.applyOutcome(a.id, r, `${method.id}.cancel`);
          throw conflict('order_paid_meanwhile', 'The buyer completed the payment before it could be canceled');
        }
      }
      await this.d.db.transaction(async (trx) => {
        const lo = await this.lockOrder(trx, o.id);
        if (lo.status !== 'created' && lo.status !== 'requires_action') throw conflict('order_not_cancelable', `The order is ${lo.status}`);
        for (const a of open) {
          const la = await this.lockAttempt(trx, a.id);
          if (la.status === 'requires_action') await this.moveAttempt(trx, la, 'canceled', 'order.canceled', { decline_reason: 'canceled', next_action: null });
        }
        await this.moveOrder(trx, lo, 'canceled', 'api.cancel');
      });
    } else if (o.status === 'authorized') {
      const claimed = await this.d.db.transaction(async (trx) => {
        const lo = await this.lockOrder(trx, o.id);
        if (lo.status !== 'authorized') throw conflict('order_not_cancelable', `The order is ${lo.status}`);
        const a = await trx<AttemptRow>('payment_attempts').where({ order_id: o.id, status: 'authorized' }).first();
        await trx('payment_attempts').where({ id: a!.id }).update({ pending_op: 'void', next_check_at: this.nextCheck(0), updated_at: this.now() });
        await this.moveOrder(trx, lo, 'processing', 'void.requested');
        return { ...a!, pending_op: 'void' as const };
      });
      await this.finishPendingOp(claimed);
    } else if (o.status === 'paid' || o.status === 'partially_refunded' || o.status === 'refunded') {
      throw conflict('already_captured', 'A captured order cannot be canceled; refund it instead');
    } else {
      throw conflict('order_not_cancelable', `The order is ${o.status}`);
    }
    return this.orderWithDetails(await this.ownOrder(merchantId, orderId));
  }

  async refund(merchantId: string, orderId: string, body: { amount?: unknown; currency?: unknown; reason?: unknown }) {
    const o0 = await this.ownOrder(merchantId, orderId);
    if (body.currency !== undefined && body.currency !== o0.currency) {
      throw conflict('currency_mismatch', `The order is in ${o0.currency}; a refund must be in the same currency`);
    }
    if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > 200)) throw invalid('reason', 'must be a string of at most 200 characters');
    const requested = body.amount;
    if (requested !== undefined && !isValidAmount(requested)) throw invalid('amount', 'must be a positive integer number of minor units');
    const at = this.now();
    const refund = await this.d.db.transaction(async (trx) => {
      const o = await this.lockOrder(trx, orderId);
      if (o.status !== 'paid' && o.status !== 'partially_refunded') {
        throw conflict(o.status === 'refunded' ? 'already_refunded' : 'order_not_refundable', `The order is ${o.status}; only a paid order can be refunded`);
      }
      const a = await trx<AttemptRow>('payment_attempts').where({ order_id: o.id, status: 'captured' }).first();
      if (!a) throw conflict('order_not_refundable', 'No captured payment on this order');
      const method = this.method(a.method);
      if (!method?.refund) throw conflict('refund_not_supported', `Method ${a.method} cannot refund`);
      const reserved = await trx('refunds').where({ attempt_id: a.id }).whereIn('status', ['pending', 'unknown', 'succeeded']).sum({ s: 'amount' }).first();
      const already = Number((reserved as { s: number | string | null } | undefined)?.s ?? 0);
      const remaining = Number(a.amount_captured) - already;
      const amount = (requested as number | undefined) ?? remaining;
      if (amount <= 0 || amount > remaining) {
        throw conflict('refund_exceeds_captured', `Refund of ${amount} exceeds the refundable ${remaining} (captured ${a.amount_captured})`);
      }
      if (amount !== Number(a.amount_captured) && method.supports.partialRefund === false) throw conflict('partial_refund_not_supported', `Method ${a.method} cannot refund partially`);
      const r: RefundRow = {
        id: newId('re'), order_id: o.id, attempt_id: a.id, merchant_id: merchantId, amount, currency: o.currency,
        status: 'pending', reason: (body.reason as string | undefined) ?? null, provider_ref: null, failure_reason: null,
        check_count: 0, next_check_at: this.nextCheck(0), created_at: at, updated_at: at,
      };
      await trx('refunds').insert(r);
      await trx('transitions').insert({ entity: 'refund', entity_id: r.id, from_status: null, to_status: 'pending', cause: 'api.refund', at });
      return r;
    });
    await this.runRefund(refund);
    const r = (await this.d.db<RefundRow>('refunds').where({ id: refund.id }).first())!;
    if (r.status === 'failed') {
      throw new PayhubError('refund_declined', `The refund was declined: ${r.failure_reason ?? 'unknown reason'}`, { status: 402, extra: { refund: refundJson(r) } });
    }
    return refundJson(r);
  }

  private async runRefund(r: RefundRow, poll = false): Promise<void> {
    const a = (await this.d.db<AttemptRow>('payment_attempts').where({ id: r.attempt_id }).first())!;
    const { method, ctx } = await this.methodContext(a);
    const ref = { id: r.id, amount: Number(r.amount) };
    const outcome: RefundOutcome = poll
      ? (method.refundStatus ? await this.callProvider('refundStatus', () => method.refundStatus!(ctx, ref), { kind: 'unknown' } as RefundOutcome) : { kind: 'unknown' })
      : await this.callProvider('refund', () => method.refund!(ctx, ref), { kind: 'unknown', reason: 'exception' } as RefundOutcome);
    await this.applyRefundOutcome(r.id, outcome);
  }

  async applyRefundOutcome(refundId: string, outcome: RefundOutcome): Promise<void> {
    await this.d.db.transaction(async (trx) => {
      const r0 = await trx<RefundRow>('refunds').where({ id: refundId }).first();
      if (!r0) return;
      const o = await this.lockOrder(trx, r0.order_id);
      const r = (await forUpdate(this.d.db, trx<RefundRow>('refunds').where({ id: refundId })).first()) as RefundRow;
      if (r.status === 'succeeded' || r.status === 'failed') return;
      const at = this.now();
      const m = await this.merchantRow(r.merchant_id, trx);
      const notifyUrl = o.notify_url ?? m?.notify_url ?? null;
      if (outcome.kind === 'processed') {
        const a = await this.lockAttempt(trx, r.attempt_id);
        await trx('refunds').where({ id: r.id }).update({ status: 'succeeded', provider_ref: outcome.providerRef ?? null, next_check_at: null, updated_at: at });
        await trx('transitions').insert({ entity: 'refund', entity_id: r.id, from_status: r.status, to_status: 'succeeded', cause: 'provider', at });
        await trx('payment_attempts').where({ id: a.id }).update({ amount_refunded: Number(a.amount_refunded) + Number(r.amount), updated_at: at });
        await post(trx, {
          kind: 'refund', merchantId: r.merchant_id, currency: r.currency, refId: r.id, at,
          legs: [{ account: accounts.available(r.merchant_id), debit: Number(r.amount) }, { account: accounts.acquirer(a.method), credit: Number(r.amount) }],
        });
        await this.reverseFee(trx, a, Number(r.amount), r.id, at);
        const total = Number(o.amount_refunded) + Number(r.amount);
        const to: OrderStatus = total >= Number(o.amount_captured) ? 'refunded' : 'partially_refunded';
        const succeeded = { ...r, status: 'succeeded' as const, updated_at: at };
        await emit(trx, { merchantId: r.merchant_id, type: 'refund.succeeded', entityId: r.id, entityVersion: 1, at, data: refundJson(succeeded), notifyUrl });
        await this.moveOrder(trx, o, to, 'refund.processed', { amount_refunded: total });
      } else if (outcome.kind === 'declined' || outcome.kind === 'not_sent') {
        await trx('refunds').where({ id: r.id }).update({ status: 'failed', failure_reason: outcome.reason.slice(0, 200), next_check_at: null, updated_at: at });
        await trx('transitions').insert({ entity: 'refund', entity_id: r.id, from_status: r.status, to_status: 'failed', cause: 'provider', at });
        await emit(trx, { merchantId: r.merchant_id, type: 'refund.failed', entityId: r.id, entityVersion: 1, at, data: refundJson({ ...r, status: 'failed', failure_reason: outcome.reason }), notifyUrl });
      } else {
        const status = outcome.kind === 'pending' ? 'pending' : 'unknown';
        const count = r.check_count + 1;
        await trx('refunds').where({ id: r.id }).update({ status, check_count: count, next_check_at: this.nextCheck(count), updated_at: at });
        if (status !== r.status) await trx('transitions').insert({ entity: 'refund', entity_id: r.id, from_status: r.status, to_status: status, cause: 'provider', at });
      }
    });
  }

  async resolveReview(merchantId: string, orderId: string, decision: 'approve' | 'reject', actor: string) {
    if (decision !== 'approve' && decision !== 'reject') throw invalid('decision', 'must be approve or reject');
    const o = await this.ownOrder(merchantId, orderId);
    const a = await this.d.db<AttemptRow>('payment_attempts').where({ order_id: o.id, status: 'authorized' }).first();
    const md = parseJson<Record<string, unknown>>(a?.method_data, {});
    if (!a || o.status !== 'authorized' || md.risk_review !== 'pending') throw conflict('not_in_review', 'The order is not held for review');
    const claimed = await this.d.db.transaction(async (trx) => {
      const la = await this.lockAttempt(trx, a.id);
      const lmd = parseJson<Record<string, unknown>>(la.method_data, {});
      if (lmd.risk_review !== 'pending') return false;
      await trx('payment_attempts').where({ id: la.id }).update({ method_data: JSON.stringify({ ...lmd, risk_review: decision === 'approve' ? 'approved' : 'rejected' }) });
      await trx('audit_log').insert({ merchant_id: merchantId, actor, action: `risk.review_${decision}`, data: JSON.stringify({ order: o.id, payment: la.id }), at: this.now() });
      return true;
    });
    if (!claimed) throw conflict('not_in_review', 'The review was resolved already');
    if (decision === 'approve') {
      if (o.capture_mode === 'automatic') return this.capture(merchantId, orderId);
      return this.orderWithDetails(await this.ownOrder(merchantId, orderId));
    }
    await this.d.db('payment_attempts').where({ id: a.id }).update({ decline_reason: 'risk_rejected' });
    return this.cancel(merchantId, orderId);
  }

  async retryWebhookDelivery(merchantId: string | null, deliveryId: string) {
    const q = this.d.db('webhook_deliveries').where({ id: deliveryId });
    const w = await (merchantId ? q.where({ merchant_id: merchantId }) : q).first();
    if (!w) throw notFound('Webhook delivery', 'delivery_not_found');
    await this.d.db('webhook_deliveries').where({ id: w.id }).update({ status: 'pending', next_attempt_at: this.now(), locked_until: null });
    await this.d.deliverWebhook?.(w.id);
    const after = await this.d.db('webhook_deliveries').where({ id: w.id }).first();
    return { id: after.id, status: after.status, attempts: after.attempts, last_status_code: after.last_status_code ?? null, last_error: after.last_error ?? null };
  }

  /* ---------------------------------------------------------------- workers */

  /** Claims up to `limit` due rows (FOR UPDATE SKIP LOCKED on PostgreSQL) by pushing their next check forward. */
  private async claim(table: 'payment_attempts' | 'refunds', statuses: string[], limit: number, extra?: (q: Knex.QueryBuilder) => void): Promise<string[]> {
    const now = this.now();
    const lease = new Date(this.d.clock.now().getTime() + 60_000).toISOString();
    return this.d.db.transaction(async (trx) => {
      let q = trx(table).select('id').whereIn('status', statuses).whereNotNull('next_check_at').where('next_check_at', '<=', now).orderBy('next_check_at').limit(limit);
      if (extra) q = q.where(extra);
      if (kindOf(this.d.db) === 'postgres') q = q.forUpdate().skipLocked();
      const ids = (await q).map((r: { id: string }) => r.id);
      if (ids.length) await trx(table).whereIn('id', ids).update({ next_check_at: lease });
      return ids;
    });
  }

  /** One pass of the outcome resolver: open attempts, in-flight captures/voids, open refunds, expiring orders. */
  async resolverPass(limit = this.d.config.workers.batch): Promise<number> {
    let n = 0;
    const attempts = await this.claim('payment_attempts', ['pending', 'unknown', 'requires_action'], limit);
    for (const id of attempts) {
      await this.resolveAttempt(id).catch((e) => this.d.logger.error({ payment: id, err: (e as Error).message }, 'resolve failed'));
      n++;
    }
    const ops = await this.claim('payment_attempts', ['authorized'], limit, (q) => q.whereNotNull('pending_op'));
    for (const id of ops) {
      await this.resolveAttempt(id).catch((e) => this.d.logger.error({ payment: id, err: (e as Error).message }, 'resolve failed'));
      n++;
    }
    // Buyer actions that ran out (abandoned 3-D Secure challenges, unpaid wallet forms).
    const now = this.now();
    const actions = await this.d.db<AttemptRow>('payment_attempts').select('id').where({ status: 'requires_action' }).where('action_expires_at', '<=', now).limit(limit);
    for (const { id } of actions) {
      await this.resolveAttempt(id).catch((e) => this.d.logger.error({ payment: id, err: (e as Error).message }, 'resolve failed'));
      n++;
    }
    const refunds = await this.claim('refunds', ['pending', 'unknown'], limit);
    for (const id of refunds) {
      const r = (await this.d.db<RefundRow>('refunds').where({ id }).first())!;
      await this.runRefund(r, true).catch((e) => this.d.logger.error({ refund: id, err: (e as Error).message }, 'refund poll failed'));
      n++;
    }
    n += await this.expireOrders(limit);
    await this.pruneIdempotencyKeys();
    return n;
  }

  /** Drops finished idempotency records older than the retention (at least 24 h); running ones are kept. */
  async pruneIdempotencyKeys(): Promise<number> {
    const cutoff = new Date(this.d.clock.now().getTime() - this.d.config.idempotency.retentionHours * 3_600_000).toISOString();
    return this.d.db('idempotency_keys').where('created_at', '<', cutoff).where({ state: 'done' }).del();
  }

  /** Orders past their expiry: unpaid ones expire; authorized ones are voided first. */
  async expireOrders(limit: number): Promise<number> {
    const now = this.now();
    const due = await this.d.db<OrderRow>('orders').whereIn('status', ['created', 'authorized']).where('expires_at', '<=', now).limit(limit);
    let n = 0;
    for (const o of due) {
      try {
        if (o.status === 'created') {
          await this.d.db.transaction(async (trx) => {
            const lo = await this.lockOrder(trx, o.id);
            if (lo.status === 'created') await this.moveOrder(trx, lo, 'expired', 'expiry');
          });
        } else {
          const claimed = await this.d.db.transaction(async (trx) => {
            const lo = await this.lockOrder(trx, o.id);
            if (lo.status !== 'authorized') return null;
            const a = await trx<AttemptRow>('payment_attempts').where({ order_id: o.id, status: 'authorized' }).first();
            if (!a) return null;
            await trx('payment_attempts').where({ id: a.id }).update({ pending_op: 'void', decline_reason: 'expired', next_check_at: this.nextCheck(0), updated_at: now });
            await this.moveOrder(trx, lo, 'processing', 'expiry.void');
            return { ...a, pending_op: 'void' as const, decline_reason: 'expired' };
          });
          if (claimed) await this.finishPendingOp(claimed);
        }
        n++;
      } catch (e) {
        this.d.logger.error({ order: o.id, err: (e as Error).message }, 'expiry failed');
      }
    }
    return n;
  }
}
