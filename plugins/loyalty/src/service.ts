import { z } from 'zod';
import { PayhubError, ValidationError, forUpdate, isUniqueViolation, kindOf, notFound, safeEqual } from '@payhub/core';
import type { CheckoutExtensionResult, Clock, CreateOrderInput, Db, Keyring, LedgerService, OrderView, PaymentsService } from '@payhub/core';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { cleanNumber, isCardNumber, mulDivFloor, newCardNumber, newCode, normalizeCode } from './numbers';

export const POINTS = 'PTS';

export const account = {
  card: (n: string) => `loyalty:card:${n}`,
  issued: (m: string) => `loyalty:issued:${m}`,
  redeemed: (m: string) => `loyalty:redeemed:${m}`,
};

const bps = z.number().int().min(0).max(10_000);

/** A merchant's program (PUT /v1/loyalty/rules). */
export const rulesSchema = z.strictObject({
  /** Points earned per paid amount, in basis points of the captured minor units (100 = 1 %). */
  earn_bps: bps.default(0),
  /** Per order.metadata.category, replaces earn_bps. */
  categories: z.record(z.string().min(1).max(64), bps).default({}),
  /** Discount for holders, basis points off the order amount (floor). */
  discount_bps: bps.default(0),
  /** Minor units of the order currency one point pays for. */
  point_value: z.number().int().min(1).max(1_000_000).default(1),
});
export type Rules = z.infer<typeof rulesSchema>;

export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw new ValidationError(r.error.issues.map((i) => ({ field: i.path.map(String).join('.') || 'body', message: i.message })));
}

export interface LoyaltyOptions {
  prefix: string;
  length: number;
  maxCodeFailures: number;
  lockMinutes: number;
  watchDays: number;
  batch: number;
}

interface CardRow {
  number: string; merchant_id: string; kind: string; status: string; holder_name: string | null; holder_email: string | null;
  code_hash: string; failed_codes: number; locked_until: string | null; created_at: string;
}

interface LoyaltyOrderRow {
  order_id: string; merchant_id: string; card_number: string; currency: string; base_amount: number | string; discount: number | string;
  points_spent: number | string; point_value: number; earn_bps: number; earned_points: number | string; earn_reversed: number | string;
  spent_returned: number | string; state: string; created_at: string; updated_at: string;
}

const n = (v: number | string | null | undefined): number => Number(v ?? 0);

export class Loyalty {
  constructor(private readonly d: {
    db: () => Db; payments: () => PaymentsService; ledger: () => LedgerService; keyring: () => Keyring; clock: () => Clock;
    logger: Logger; options: LoyaltyOptions;
  }) {}

  private now(): string {
    return this.d.clock().now().toISOString();
  }

  /** Serialises everything that moves one card's points: an advisory lock on PostgreSQL; SQLite has one writer. */
  private async lockCard(trx: Knex.Transaction, number: string): Promise<void> {
    if (kindOf(this.d.db()) === 'postgres') await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`loyalty:card:${number}`]);
  }

  private codeHash(number: string, code: string): string {
    return this.d.keyring().fingerprint('loyalty.code', `${number}:${code}`);
  }

  /* ------------------------------------------------------------ rules */

  async rules(merchantId: string): Promise<Rules> {
    const row = await this.d.db()('loyalty_rules').where({ merchant_id: merchantId }).first();
    return row ? rulesSchema.parse(JSON.parse(row.rules)) : rulesSchema.parse({});
  }

  async setRules(merchantId: string, input: unknown): Promise<Rules> {
    const rules = parseOrThrow(rulesSchema, input);
    const text = JSON.stringify(rules);
    const at = this.now();
    await this.d.db()('loyalty_rules').insert({ merchant_id: merchantId, rules: text, updated_at: at }).onConflict('merchant_id').merge({ rules: text, updated_at: at });
    return rules;
  }

  /* ------------------------------------------------------------ cards */

  async issueCard(merchantId: string, input: Record<string, unknown>): Promise<{ card: CardRow; code: string }> {
    const { prefix, length } = this.d.options;
    const schema = z.strictObject({
      kind: z.enum(['virtual', 'plastic']).default('virtual'),
      number: z.string().optional(),
      holder: z.strictObject({ name: z.string().min(1).max(200).optional(), email: z.email().max(254).optional() }).default({}),
    });
    const b = parseOrThrow(schema, input);
    let number: string;
    if (b.kind === 'plastic') {
      number = cleanNumber(b.number);
      if (!isCardNumber(number, prefix, length)) {
        throw new ValidationError([{ field: 'number', message: `a plastic card needs its printed number: ${length} digits starting ${prefix}, Luhn-valid` }]);
      }
    } else {
      if (b.number !== undefined) throw new ValidationError([{ field: 'number', message: 'a virtual card gets its number from the hub' }]);
      number = newCardNumber(prefix, length);
    }
    const code = newCode();
    const card: CardRow = {
      number, merchant_id: merchantId, kind: b.kind, status: 'active', holder_name: b.holder.name ?? null, holder_email: b.holder.email ?? null,
      code_hash: this.codeHash(number, code), failed_codes: 0, locked_until: null, created_at: this.now(),
    };
    try {
      await this.d.db()('loyalty_cards').insert(card);
    } catch (e) {
      const err = e as { code?: string; message?: string };
      if (err.code === '23505' || /UNIQUE|duplicate key/.test(err.message ?? '')) {
        throw new PayhubError('card_number_taken', 'A loyalty card with this number exists already', { status: 409 });
      }
      throw e;
    }
    return { card, code };
  }

  async card(merchantId: string, number: string): Promise<CardRow> {
    const row = await this.d.db()<CardRow>('loyalty_cards').where({ number: cleanNumber(number), merchant_id: merchantId }).first();
    if (!row) throw notFound('Loyalty card', 'loyalty_card_not_found');
    return row;
  }

  async balance(number: string, trx?: Knex.Transaction): Promise<number> {
    return this.d.ledger().balance(account.card(number), POINTS, trx);
  }

  async cardJson(row: CardRow) {
    return {
      object: 'loyalty_card', number: row.number, kind: row.kind, status: row.status,
      holder: { name: row.holder_name, email: row.holder_email }, balance: await this.balance(row.number), currency: POINTS,
      created_at: row.created_at,
    };
  }

  async movements(number: string, limit = 50) {
    const rows = await this.d.db()('ledger_entries').where({ account: account.card(number), currency: POINTS }).orderBy('id', 'desc').limit(limit);
    return rows.map((e: Record<string, unknown>) => ({ kind: e.kind, points: n(e.credit as number) - n(e.debit as number), ref_id: e.ref_id, created_at: e.created_at }));
  }

  /** The merchant's manual correction: credits (points > 0) or debits (points < 0, never below zero). */
  async adjust(merchantId: string, number: string, input: Record<string, unknown>): Promise<number> {
    const b = parseOrThrow(z.strictObject({
      points: z.number().int().min(-1_000_000_000).max(1_000_000_000).refine((v) => v !== 0, 'must not be 0'),
      reason: z.string().min(1).max(200),
    }), input);
    const card = await this.card(merchantId, number);
    return this.d.db().transaction(async (trx) => {
      await this.lockCard(trx, card.number);
      const bal = await this.balance(card.number, trx);
      if (b.points < 0 && bal + b.points < 0) throw new ValidationError([{ field: 'points', message: 'more than the card holds' }], undefined, 'insufficient_points');
      const legs = b.points > 0
        ? [{ account: account.issued(merchantId), debit: b.points }, { account: account.card(card.number), credit: b.points }]
        : [{ account: account.card(card.number), debit: -b.points }, { account: account.issued(merchantId), credit: -b.points }];
      await this.d.ledger().post({ kind: 'loyalty_adjust', merchantId, currency: POINTS, refId: card.number, legs }, trx);
      return bal + b.points;
    });
  }

  /** Holder page: checks the code, counting failures (locked for a while after too many). */
  async checkCode(number: string, code: string): Promise<CardRow | 'locked' | null> {
    const db = this.d.db();
    const row = await db<CardRow>('loyalty_cards').where({ number: cleanNumber(number) }).first();
    const now = this.now();
    const want = row ? row.code_hash : this.codeHash('0', 'none');
    const given = this.codeHash(row?.number ?? '0', normalizeCode(code));
    if (!row) return null;
    if (row.locked_until && row.locked_until > now) return 'locked';
    if (safeEqual(given, want)) {
      if (row.failed_codes > 0) await db('loyalty_cards').where({ number: row.number }).update({ failed_codes: 0, locked_until: null });
      return row;
    }
    const failed = row.failed_codes + 1;
    const lock = failed >= this.d.options.maxCodeFailures;
    await db('loyalty_cards').where({ number: row.number }).update({
      failed_codes: lock ? 0 : failed,
      locked_until: lock ? new Date(this.d.clock().now().getTime() + this.d.options.lockMinutes * 60_000).toISOString() : row.locked_until,
    });
    return lock ? 'locked' : null;
  }

  /* ------------------------------------------------------------ orders */

  /**
   * Creates an order for a holder: the discount is taken off, the points spent pay part of the rest. The spend is
   * checked against the balance and posted in one transaction serialised per card, so concurrent spends never
   * overdraw a card.
   */
  async createOrder(merchantId: string, input: Record<string, unknown>) {
    const { card_number: cardNumber, spend_points: spendRaw, ...orderInput } = input;
    const card = await this.d.db()<CardRow>('loyalty_cards').where({ number: cleanNumber(cardNumber), merchant_id: merchantId }).first();
    if (!card) throw new ValidationError([{ field: 'card_number', message: 'no such loyalty card' }], undefined, 'loyalty_card_not_found');
    if (card.status !== 'active') throw new ValidationError([{ field: 'card_number', message: 'the card is blocked' }], undefined, 'loyalty_card_blocked');
    const spend = spendRaw === undefined ? 0 : spendRaw;
    if (typeof spend !== 'number' || !Number.isSafeInteger(spend) || spend < 0) throw new ValidationError([{ field: 'spend_points', message: 'must be a whole number of points, 0 or more' }]);
    const amount = orderInput.amount;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 1) throw new ValidationError([{ field: 'amount', message: 'must be a positive whole number of minor units' }]);
    const rules = await this.rules(merchantId);
    const discount = mulDivFloor(amount, rules.discount_bps, 10_000);
    const afterDiscount = amount - discount;
    const spendValue = spend * rules.point_value;
    if (!Number.isSafeInteger(spendValue) || spendValue > afterDiscount - 1) {
      throw new ValidationError([{ field: 'spend_points', message: `points may pay at most ${afterDiscount - 1} of ${afterDiscount} (at ${rules.point_value} per point)` }]);
    }
    const meta = (orderInput.metadata && typeof orderInput.metadata === 'object' && !Array.isArray(orderInput.metadata)) ? orderInput.metadata as Record<string, unknown> : {};
    const category = typeof meta.category === 'string' ? meta.category : undefined;
    const earnBps = category !== undefined && rules.categories[category] !== undefined ? rules.categories[category]! : rules.earn_bps;
    const payments = this.d.payments();
    // The engine validates the rest of the order (and refuses a duplicate order_number) before any point moves.
    const order = await payments.createOrder(merchantId, {
      ...(orderInput as unknown as CreateOrderInput),
      amount: afterDiscount - spendValue,
      metadata: { ...meta, loyalty: { card_last4: card.number.slice(-4), amount_before: amount, discount, points_spent: spend } },
    });
    const at = this.now();
    try {
      await this.d.db().transaction(async (trx) => {
        await this.lockCard(trx, card.number);
        if (spend > 0) {
          const bal = await this.balance(card.number, trx);
          if (bal < spend) throw new ValidationError([{ field: 'spend_points', message: `more than the card holds (${bal})` }], undefined, 'insufficient_points');
        }
        await trx('loyalty_orders').insert({
          order_id: order.id, merchant_id: merchantId, card_number: card.number, currency: order.currency, base_amount: amount, discount,
          points_spent: spend, point_value: rules.point_value, earn_bps: earnBps, earned_points: 0, earn_reversed: 0, spent_returned: 0,
          state: 'open', created_at: at, updated_at: at,
        });
        if (spend > 0) {
          await this.d.ledger().post({
            kind: 'loyalty_spend', merchantId, currency: POINTS, refId: order.id,
            legs: [{ account: account.card(card.number), debit: spend }, { account: account.redeemed(merchantId), credit: spend }],
          }, trx);
        }
      });
    } catch (e) {
      // The order must not be paid at a price the points did not cover.
      await payments.cancel(merchantId, order.id).catch((ce: Error) => this.d.logger.warn({ order: order.id, err: ce.message }, 'loyalty: cancel after a refused spend failed'));
      throw e;
    }
    return {
      object: 'loyalty_order', order_id: order.id, order_number: order.orderNumber, amount: order.amount, currency: order.currency,
      status: order.status, card_number: card.number, amount_before: amount, discount, points_spent: spend, point_value: rules.point_value,
      earn_bps: earnBps,
    };
  }

  /* ------------------------------------------------------------ the hosted payment page */

  /** Whether the merchant runs a program (set rules): the payment page offers the card field then. */
  async hasRules(merchantId: string): Promise<boolean> {
    return !!(await this.d.db()('loyalty_rules').where({ merchant_id: merchantId }).first());
  }

  /**
   * Attaches a holder's card to an order being paid on the hosted page (no discount, no points spent): the order is
   * then watched by runOnce() exactly like the orders of POST /v1/loyalty/orders (earn after capture, reversal on
   * refund). The same card again is fine (idempotent); another card for an order that has one is refused. Answers
   * show the number masked only.
   */
  async attachToOrder(merchantId: string, orderId: string, raw: string): Promise<CheckoutExtensionResult> {
    const { prefix, length } = this.d.options;
    const number = cleanNumber(raw);
    const tail = /^\d{4,}$/.test(number) ? number.slice(-4) : '';
    const masked = tail ? `•••• ${tail}` : '';
    const fail = (en: string, ru: string, de: string): CheckoutExtensionResult => ({ ok: false, field: 'card_number', message: { en, ru, de } });
    if (!isCardNumber(number, prefix, length)) {
      return fail('Check the loyalty card number', 'Проверьте номер карты лояльности', 'Prüfen Sie die Nummer der Kundenkarte');
    }
    const db = this.d.db();
    const card = await db<CardRow>('loyalty_cards').where({ number, merchant_id: merchantId }).first();
    if (!card) {
      return fail(`No loyalty card ${masked} in this shop`, `Карта лояльности ${masked} не найдена в этом магазине`, `Keine Kundenkarte ${masked} in diesem Shop`);
    }
    if (card.status !== 'active') {
      return fail(`The loyalty card ${masked} is blocked`, `Карта лояльности ${masked} заблокирована`, `Die Kundenkarte ${masked} ist gesperrt`);
    }
    const order = await this.d.payments().getOrder(orderId);
    if (!order || order.merchantId !== merchantId || order.status !== 'created') {
      return fail('Points can no longer be added to this order', 'К этому заказу уже нельзя добавить баллы', 'Zu dieser Bestellung können keine Punkte mehr hinzugefügt werden');
    }
    const rules = await this.rules(merchantId);
    const category = typeof order.metadata?.category === 'string' ? order.metadata.category : undefined;
    const earnBps = category !== undefined && rules.categories[category] !== undefined ? rules.categories[category]! : rules.earn_bps;
    const attached = (): CheckoutExtensionResult => {
      const pts = mulDivFloor(order.amount, earnBps, 10_000);
      return {
        ok: true,
        message: {
          en: `Loyalty card ${masked} added: ${pts} points once the order is paid.`,
          ru: `Карта лояльности ${masked} добавлена: ${pts} баллов после оплаты заказа.`,
          de: `Kundenkarte ${masked} hinzugefügt: ${pts} Punkte nach der Zahlung.`,
        },
      };
    };
    const other = (): CheckoutExtensionResult => fail(
      'Another loyalty card is already added to this order', 'К этому заказу уже добавлена другая карта лояльности', 'Dieser Bestellung ist bereits eine andere Kundenkarte zugeordnet',
    );
    const existing = await db<LoyaltyOrderRow>('loyalty_orders').where({ order_id: orderId }).first();
    if (existing) return existing.card_number === number ? attached() : other();
    const at = this.now();
    try {
      await db('loyalty_orders').insert({
        order_id: orderId, merchant_id: merchantId, card_number: number, currency: order.currency, base_amount: order.amount, discount: 0,
        points_spent: 0, point_value: rules.point_value, earn_bps: earnBps, earned_points: 0, earn_reversed: 0, spent_returned: 0,
        state: 'open', created_at: at, updated_at: at,
      });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
      // Two submissions raced: the first one won.
      const row = await db<LoyaltyOrderRow>('loyalty_orders').where({ order_id: orderId }).first();
      return row?.card_number === number ? attached() : other();
    }
    await this.d.payments().audit({ merchantId, actor: 'buyer', action: 'loyalty.card_attached', data: { order: orderId, card_last4: tail } })
      .catch(() => undefined);
    return attached();
  }

  /**
   * One pass over watched orders: credits earned points once captured, reverses them (and returns spent points) in
   * proportion to refunds, returns spent points of orders that ended unpaid. Idempotent: each row keeps what it
   * posted, and the next pass posts only the difference (under a row lock, so several instances agree).
   */
  async runOnce(): Promise<{ checked: number; posted: number }> {
    const db = this.d.db();
    const rows = await db<LoyaltyOrderRow>('loyalty_orders').where({ state: 'open' }).orderBy('updated_at').limit(this.d.options.batch);
    let posted = 0;
    for (const r of rows) {
      try {
        const order = await this.d.payments().getOrder(r.order_id);
        if (order) posted += await this.settle(r.order_id, order);
      } catch (e) {
        this.d.logger.warn({ order: r.order_id, err: (e as Error).message }, 'loyalty: settling an order failed');
      }
    }
    return { checked: rows.length, posted };
  }

  private async settle(orderId: string, o: OrderView): Promise<number> {
    const db = this.d.db();
    const ledger = this.d.ledger();
    return db.transaction(async (trx) => {
      const r = await forUpdate(db, trx<LoyaltyOrderRow>('loyalty_orders').where({ order_id: orderId })).first() as LoyaltyOrderRow | undefined;
      if (!r || r.state !== 'open') return 0;
      await this.lockCard(trx, r.card_number);
      const captured = o.amountCaptured;
      const refunded = Math.min(o.amountRefunded, captured);
      const spent = n(r.points_spent);
      const earnTarget = mulDivFloor(captured, r.earn_bps, 10_000);
      const reverseTarget = mulDivFloor(earnTarget, refunded, captured);
      const expired = o.status === 'expired' || (o.status === 'created' && Date.parse(o.expiresAt) <= this.d.clock().now().getTime());
      const unpaid = captured === 0 && (o.status === 'canceled' || expired);
      const returnTarget = unpaid ? spent : mulDivFloor(spent, refunded, captured);
      const earned = n(r.earned_points);
      const reversed = n(r.earn_reversed);
      const returned = n(r.spent_returned);
      const card = account.card(r.card_number);
      let posted = 0;
      if (earnTarget > earned) {
        await ledger.post({ kind: 'loyalty_earn', merchantId: r.merchant_id, currency: POINTS, refId: orderId,
          legs: [{ account: account.issued(r.merchant_id), debit: earnTarget - earned }, { account: card, credit: earnTarget - earned }] }, trx);
        posted++;
      }
      if (reverseTarget > reversed) {
        // May take the card below zero when the points were spent meanwhile: the holder then owes them.
        await ledger.post({ kind: 'loyalty_earn_reversal', merchantId: r.merchant_id, currency: POINTS, refId: orderId,
          legs: [{ account: card, debit: reverseTarget - reversed }, { account: account.issued(r.merchant_id), credit: reverseTarget - reversed }] }, trx);
        posted++;
      }
      if (returnTarget > returned) {
        await ledger.post({ kind: 'loyalty_spend_return', merchantId: r.merchant_id, currency: POINTS, refId: orderId,
          legs: [{ account: account.redeemed(r.merchant_id), debit: returnTarget - returned }, { account: card, credit: returnTarget - returned }] }, trx);
        posted++;
      }
      const nowMs = this.d.clock().now().getTime();
      const old = nowMs - Date.parse(r.created_at) > this.d.options.watchDays * 86_400_000;
      const done = unpaid || o.status === 'refunded' || old;
      await trx('loyalty_orders').where({ order_id: orderId }).update({
        earned_points: Math.max(earnTarget, earned), earn_reversed: Math.max(reverseTarget, reversed), spent_returned: Math.max(returnTarget, returned),
        state: done ? 'closed' : 'open', updated_at: new Date(nowMs).toISOString(),
      });
      return posted;
    });
  }
}
