import crypto from 'node:crypto';
import { PayhubError, ValidationError, forUpdate, isUniqueViolation, newId, notFound, safeEqual, unauthorized } from '@payhub/core';
import type { Clock, Db, Keyring, PaymentsService, Runtime } from '@payhub/core';
import type { Logger } from 'pino';
import { findOperator } from './operator';
import type { CreditOutcome, TopupOperator } from './operator';
import { toE164 } from './phone';

export interface TopupOptions {
  defaultCountry: string;
  currency: string;
  minAmount: number;
  maxAmount: number;
  /** Seconds before the n-th re-check of an open credit (the last repeats). */
  retryDelays: number[];
  /** Seconds a credit call may hold its claim before another pass treats it as unknown. */
  leaseSeconds: number;
  batch: number;
  /** Seconds a terminal's timestamp may differ from the hub's clock. */
  signatureWindow: number;
  refundDeclined: boolean;
}

export interface TopupRow {
  id: string; merchant_id: string; msisdn: string; operator_id: string; amount: number | string; currency: string; source: 'order' | 'cash';
  order_id: string | null; terminal_id: string | null; receipt: string | null; status: string; credit_attempts: number; status_checks: number;
  operator_ref: string | null; decline_reason: string | null; refund_status: string | null; next_check_at: string | null;
  created_at: string; updated_at: string;
}

const FINAL = ['processed', 'declined', 'canceled'];

export class Topups {
  constructor(private readonly d: {
    db: () => Db; payments: () => PaymentsService; keyring: () => Keyring; clock: () => Clock; runtime: () => Runtime;
    operators: () => TopupOperator[]; logger: Logger; options: TopupOptions;
  }) {}

  private nowMs(): number {
    return this.d.clock().now().getTime();
  }

  private iso(ms = this.nowMs()): string {
    return new Date(ms).toISOString();
  }

  private delay(n: number): string {
    const ds = this.d.options.retryDelays;
    return this.iso(this.nowMs() + 1000 * ds[Math.min(n, ds.length - 1)]!);
  }

  /** Validates the number, amount and currency and finds the operator (422 naming the field otherwise). */
  route(input: { msisdn: unknown; amount: unknown; currency?: unknown }): { msisdn: string; amount: number; currency: string; operator: TopupOperator } {
    const o = this.d.options;
    const msisdn = toE164(input.msisdn, o.defaultCountry);
    const errors: Array<{ field: string; message: string }> = [];
    if (!msisdn) errors.push({ field: 'msisdn', message: 'is not a valid phone number (E.164, e.g. +79161234567)' });
    const amount = input.amount;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < o.minAmount || amount > o.maxAmount) {
      errors.push({ field: 'amount', message: `must be a whole number of minor units from ${o.minAmount} to ${o.maxAmount}` });
    }
    const currency = input.currency === undefined ? o.currency : input.currency;
    if (currency !== o.currency) errors.push({ field: 'currency', message: `must be ${o.currency}` });
    if (errors.length) throw new ValidationError(errors);
    const operator = findOperator(this.d.operators(), msisdn!, currency as string);
    if (!operator) throw new ValidationError([{ field: 'msisdn', message: 'no operator serves this number' }], undefined, 'unknown_operator');
    return { msisdn: msisdn!, amount: amount as number, currency: currency as string, operator };
  }

  json(r: TopupRow) {
    return {
      id: r.id, object: 'topup', status: r.status, msisdn: r.msisdn, operator: r.operator_id, amount: Number(r.amount), currency: r.currency,
      source: r.source, order_id: r.order_id, pay_url: r.order_id ? `${this.d.runtime().baseUrl()}/pay/${r.order_id}` : null,
      terminal_id: r.terminal_id, receipt: r.receipt, operator_ref: r.operator_ref, decline_reason: r.decline_reason,
      refund_status: r.refund_status, created_at: r.created_at, updated_at: r.updated_at,
    };
  }

  async get(id: string): Promise<TopupRow | undefined> {
    return this.d.db()<TopupRow>('mobile_topup_topups').where({ id }).first();
  }

  async getOwn(merchantId: string, id: string): Promise<TopupRow> {
    const r = await this.get(id);
    if (!r || r.merchant_id !== merchantId) throw notFound('Top-up', 'topup_not_found');
    return r;
  }

  /** A top-up paid through the normal flow: an order for the merchant, credited once the order is paid. */
  async createPaid(merchantId: string, input: Record<string, unknown>): Promise<TopupRow> {
    const r = this.route({ msisdn: input.msisdn, amount: input.amount, currency: input.currency });
    const id = newId('tup');
    const order = await this.d.payments().createOrder(merchantId, {
      order_number: id, amount: r.amount, currency: r.currency,
      description: `Mobile top-up ${r.msisdn.slice(0, -4)}****`,
      ...(typeof input.return_url === 'string' ? { return_url: input.return_url } : {}),
      ...(input.customer && typeof input.customer === 'object' ? { customer: input.customer as { email?: string } } : {}),
      metadata: { topup_id: id, operator: r.operator.id },
    });
    const at = this.iso();
    const row: TopupRow = {
      id, merchant_id: merchantId, msisdn: r.msisdn, operator_id: r.operator.id, amount: r.amount, currency: r.currency, source: 'order',
      order_id: order.id, terminal_id: null, receipt: null, status: 'awaiting_payment', credit_attempts: 0, status_checks: 0,
      operator_ref: null, decline_reason: null, refund_status: null, next_check_at: null, created_at: at, updated_at: at,
    };
    await this.d.db()('mobile_topup_topups').insert(row);
    return row;
  }

  /* ------------------------------------------------------------ terminals */

  async createTerminal(merchantId: string, name: unknown): Promise<{ id: string; secret: string }> {
    if (typeof name !== 'string' || name.length < 1 || name.length > 200) throw new ValidationError([{ field: 'name', message: 'must be 1 to 200 characters' }]);
    const id = newId('trm');
    const secret = crypto.randomBytes(32).toString('base64url');
    await this.d.db()('mobile_topup_terminals').insert({
      id, merchant_id: merchantId, name, secret_enc: this.d.keyring().encrypt(secret, `mobile_topup_terminals:${id}`), status: 'active', created_at: this.iso(),
    });
    return { id, secret };
  }

  /**
   * A cash-in from a terminal: `X-Terminal-Id`, `X-Timestamp` (Unix seconds), `X-Signature` =
   * hex HMAC-SHA256(secret, `${timestamp}.${raw body}`). A duplicate receipt returns the top-up already made.
   */
  async cashIn(headers: { terminal?: string; timestamp?: string; signature?: string }, rawBody: string | undefined, body: Record<string, unknown>): Promise<{ row: TopupRow; duplicate: boolean }> {
    const refuse = (code: string) => unauthorized(code, 'The terminal request is not signed correctly');
    if (!headers.terminal || !headers.timestamp || !headers.signature || typeof rawBody !== 'string') throw refuse('signature_missing');
    const term = await this.d.db()('mobile_topup_terminals').where({ id: headers.terminal }).first();
    if (!term || term.status !== 'active') throw refuse('signature_invalid');
    if (!/^\d{1,12}$/.test(headers.timestamp) || Math.abs(this.nowMs() / 1000 - Number(headers.timestamp)) > this.d.options.signatureWindow) {
      throw refuse('signature_expired');
    }
    const secret = this.d.keyring().decrypt(term.secret_enc, `mobile_topup_terminals:${term.id}`);
    const want = crypto.createHmac('sha256', secret).update(`${headers.timestamp}.${rawBody}`).digest('hex');
    if (!safeEqual(headers.signature, want)) throw refuse('signature_invalid');
    const receipt = body.receipt;
    if (typeof receipt !== 'string' || !/^[\w.:/-]{1,64}$/.test(receipt)) throw new ValidationError([{ field: 'receipt', message: 'must be 1 to 64 letters, digits or ._:/-' }]);
    const r = this.route({ msisdn: body.msisdn, amount: body.amount, currency: body.currency });
    const at = this.iso();
    const row: TopupRow = {
      id: newId('tup'), merchant_id: term.merchant_id, msisdn: r.msisdn, operator_id: r.operator.id, amount: r.amount, currency: r.currency,
      source: 'cash', order_id: null, terminal_id: term.id, receipt, status: 'ready', credit_attempts: 0, status_checks: 0,
      operator_ref: null, decline_reason: null, refund_status: null, next_check_at: at, created_at: at, updated_at: at,
    };
    try {
      await this.d.db()('mobile_topup_topups').insert(row);
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      const prior = await this.d.db()<TopupRow>('mobile_topup_topups').where({ terminal_id: term.id, receipt }).first();
      if (!prior) throw e;
      if (prior.msisdn !== r.msisdn || Number(prior.amount) !== r.amount) {
        throw new PayhubError('receipt_reused', 'This receipt was posted with another number or amount', { status: 409 });
      }
      return { row: prior, duplicate: true };
    }
    await this.process(row.id);
    return { row: (await this.get(row.id))!, duplicate: false };
  }

  /* ------------------------------------------------------------ the credit path */

  private operator(id: string): TopupOperator | null {
    return this.d.operators().find((o) => o.id === id) ?? null;
  }

  private async call(what: string, fn: () => Promise<CreditOutcome>): Promise<CreditOutcome> {
    try {
      return await fn();
    } catch (e) {
      this.d.logger.warn({ what, err: (e as Error).message }, 'mobile-topup: operator call threw; outcome unknown');
      return { kind: 'unknown', reason: 'exception' };
    }
  }

  /** Compare-and-set on the status: only one pass (or instance) moves a top-up from a given state. */
  private async cas(id: string, from: string, patch: Partial<TopupRow>, extra?: { nextCheckAt: string | null }): Promise<boolean> {
    const db = this.d.db();
    return db.transaction(async (trx) => {
      const r = await forUpdate(db, trx<TopupRow>('mobile_topup_topups').where({ id })).first() as TopupRow | undefined;
      if (!r || r.status !== from) return false;
      if (extra && r.next_check_at !== extra.nextCheckAt) return false;
      await trx('mobile_topup_topups').where({ id }).update({ ...patch, updated_at: this.iso() });
      return true;
    });
  }

  private async apply(r: TopupRow, from: string, o: CreditOutcome, checks: number): Promise<void> {
    switch (o.kind) {
      case 'processed':
        await this.cas(r.id, from, { status: 'processed', operator_ref: o.operatorRef ?? null, next_check_at: null });
        return;
      case 'declined':
        if (await this.cas(r.id, from, { status: 'declined', decline_reason: o.reason.slice(0, 100), next_check_at: null })) await this.refund(r);
        return;
      case 'pending':
      case 'unknown':
        await this.cas(r.id, from, { status: o.kind, next_check_at: this.delay(checks) });
        return;
      case 'not_sent':
        // Never reached the operator: send again (same reference) on the next pass.
        await this.cas(r.id, from, { status: 'ready', next_check_at: this.delay(checks) });
    }
  }

  private async refund(r: TopupRow): Promise<void> {
    if (r.source !== 'order' || !r.order_id || !this.d.options.refundDeclined) return;
    let status = 'requested';
    try {
      await this.d.payments().refund(r.merchant_id, r.order_id, { reason: 'topup_declined' });
    } catch (e) {
      status = 'failed';
      this.d.logger.warn({ topup: r.id, err: (e as Error).message }, 'mobile-topup: refund of a declined top-up failed');
    }
    await this.d.db()('mobile_topup_topups').where({ id: r.id }).update({ refund_status: status });
  }

  /**
   * Moves one top-up along: `ready` → credit (claimed under a lease); `unknown`/`pending` (or a lease that ran out)
   * → status() first, and a new credit with the same reference only when the operator never saw it.
   */
  async process(id: string): Promise<void> {
    let r = await this.get(id);
    if (!r || FINAL.includes(r.status) || r.status === 'awaiting_payment') return;
    const op = this.operator(r.operator_id);
    if (!op) return;
    const due = !r.next_check_at || r.next_check_at <= this.iso();
    if (!due) return;
    if (r.status === 'sending' || r.status === 'unknown' || r.status === 'pending') {
      // Claim the check by pushing next_check_at; the status stays (a lost lease is an unknown).
      const from = r.status;
      const checks = r.status_checks + 1;
      if (!(await this.cas(id, from, { status: from === 'sending' ? 'unknown' : from, status_checks: checks, next_check_at: this.iso(this.nowMs() + this.d.options.leaseSeconds * 1000) }, { nextCheckAt: r.next_check_at }))) return;
      const cur = from === 'sending' ? 'unknown' : from;
      const o = await this.call('status', () => op.status(r!.id));
      if (o.kind !== 'not_sent') {
        await this.apply(r, cur, o.kind === 'unknown' ? { kind: cur as 'unknown' } : o, checks);
        return;
      }
      if (!(await this.cas(id, cur, { status: 'ready', next_check_at: null }))) return;
      r = (await this.get(id))!;
    }
    if (r.status !== 'ready') return;
    const attempts = r.credit_attempts + 1;
    const lease = this.iso(this.nowMs() + this.d.options.leaseSeconds * 1000);
    if (!(await this.cas(id, 'ready', { status: 'sending', credit_attempts: attempts, next_check_at: lease }, { nextCheckAt: r.next_check_at }))) return;
    const row = r;
    const o = await this.call('credit', () => op.credit({ reference: row.id, msisdn: row.msisdn, amount: Number(row.amount), currency: row.currency }));
    await this.apply(row, 'sending', o, attempts - 1);
  }

  /** Orders that were paid become ready to credit; unpaid ones that ended are canceled. */
  private async watchOrders(): Promise<void> {
    const rows = await this.d.db()<TopupRow>('mobile_topup_topups').where({ status: 'awaiting_payment' }).orderBy('updated_at').limit(this.d.options.batch);
    for (const r of rows) {
      const o = r.order_id ? await this.d.payments().getOrder(r.order_id) : null;
      if (!o) continue;
      if (o.status === 'paid' || (o.amountCaptured >= Number(r.amount) && o.amountRefunded === 0)) {
        await this.cas(r.id, 'awaiting_payment', { status: 'ready', next_check_at: null });
        await this.process(r.id);
      } else if (o.status === 'canceled' || o.status === 'expired' || o.status === 'refunded') {
        await this.cas(r.id, 'awaiting_payment', { status: 'canceled' });
      } else {
        await this.d.db()('mobile_topup_topups').where({ id: r.id, status: 'awaiting_payment' }).update({ updated_at: this.iso() });
      }
    }
  }

  /** One pass of the worker: watch orders, then move every due top-up. */
  async runOnce(): Promise<{ due: number }> {
    await this.watchOrders();
    const now = this.iso();
    const due = await this.d.db()<TopupRow>('mobile_topup_topups')
      .whereIn('status', ['ready', 'sending', 'unknown', 'pending'])
      .where((w) => w.whereNull('next_check_at').orWhere('next_check_at', '<=', now))
      .orderBy('next_check_at').limit(this.d.options.batch).select('id');
    for (const { id } of due) {
      try {
        await this.process(id);
      } catch (e) {
        this.d.logger.warn({ topup: id, err: (e as Error).message }, 'mobile-topup: processing failed');
      }
    }
    return { due: due.length };
  }
}
