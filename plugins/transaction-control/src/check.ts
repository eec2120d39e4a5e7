import { kindOf } from '@payhub/core';
import type { Clock, Db, Keyring, RiskCheck, RiskContext, RiskDecision } from '@payhub/core';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { blockListOf, inBlockList, ipHex, normalizeIp } from './ip';
import { EMPTY_RULES, decide, evaluate, rulesSchema } from './rules';
import type { Counts, Facts, Fired, Rules } from './rules';

export interface CheckDeps {
  db: () => Db;
  clock: () => Clock;
  keyring: () => Keyring;
  logger: Logger;
  /** Answer when the check itself fails (the database is down…). */
  onError: 'allow' | 'review' | 'deny';
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);

export async function loadRules(db: Db | Knex.Transaction, merchantId: string): Promise<Rules> {
  const row = await db('transaction_control_rules').where({ merchant_id: merchantId }).first();
  if (!row) return EMPTY_RULES;
  const r = rulesSchema.safeParse(JSON.parse(row.rules));
  return r.success ? r.data : EMPTY_RULES;
}

/** Country of an IP from the merchant's table (longest-start range holding it), or null. */
export async function ipCountry(db: Db | Knex.Transaction, merchantId: string, ip: string): Promise<string | null> {
  const h = ipHex(ip);
  if (!h) return null;
  const row = await db('transaction_control_ip_countries')
    .where({ merchant_id: merchantId }).where('start_hex', '<=', h).where('end_hex', '>=', h)
    .orderBy('start_hex', 'desc').first('country');
  return row ? String(row.country) : null;
}

/**
 * The transaction-control risk check. One transaction per attempt: lock the counters' keys (PostgreSQL advisory
 * locks; SQLite's single writer with BEGIN IMMEDIATE serialises on its own), record the attempt, count, decide,
 * store the decision.
 */
export class TransactionControl implements RiskCheck {
  readonly id = 'transaction-control';

  constructor(private readonly d: CheckDeps) {}

  async check(ctx: RiskContext): Promise<RiskDecision> {
    try {
      return await this.run(ctx);
    } catch (e) {
      this.d.logger.error({ attempt: ctx.attempt.id, err: (e as Error).message }, 'transaction-control: check failed');
      return { decision: this.d.onError, rules: [{ rule: 'check_failed' }], reason: 'risk check unavailable' };
    }
  }

  private facts(ctx: RiskContext): Facts {
    const md = ctx.methodData ?? {};
    const email = str(ctx.order.customer?.email)?.trim().toLowerCase() ?? null;
    const request = ctx.request as (RiskContext['request'] & { country?: string }) | undefined;
    const country = str(request?.country)?.toUpperCase() ?? null;
    return {
      amount: ctx.attempt.amount,
      currency: ctx.attempt.currency,
      fingerprint: str(md.fingerprint),
      email,
      ip: normalizeIp(ctx.request?.ip),
      brand: str(md.brand)?.toLowerCase() ?? null,
      cardCountry: str(md.issuer_country)?.toUpperCase() ?? str(md.card_country)?.toUpperCase() ?? null,
      ipCountry: country && /^[A-Z]{2}$/.test(country) ? country : null,
    };
  }

  private async run(ctx: RiskContext): Promise<RiskDecision> {
    const db = this.d.db();
    const now = this.d.clock().now();
    const at = now.toISOString();
    const day = at.slice(0, 10);
    const merchantId = ctx.merchant.id;
    const f = this.facts(ctx);
    const emailFp = f.email ? this.d.keyring().fingerprint('transaction-control.email', f.email) : null;
    const pg = kindOf(db) === 'postgres';

    return db.transaction(async (trx) => {
      const rules = await loadRules(trx, merchantId);
      const keyOf = (k: 'card' | 'email' | 'ip'): string | null => (k === 'card' ? f.fingerprint : k === 'email' ? emailFp : f.ip);
      if (pg) {
        const keys = new Set<string>();
        for (const v of rules.velocity) {
          const val = keyOf(v.key);
          if (val) keys.add(`tc:${v.key}:${merchantId}:${val}`);
        }
        if (rules.amount_per_day.some((r) => r.currency === f.currency)) keys.add(`tc:day:${merchantId}:${f.currency}`);
        // Sorted, so two checks never wait on each other in opposite orders.
        for (const k of [...keys].sort()) await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [k]);
      }
      const [row] = await trx('transaction_control_checks').insert({
        attempt_id: ctx.attempt.id, order_id: ctx.order.id, merchant_id: merchantId, method: ctx.method,
        amount: f.amount, currency: f.currency, day, fingerprint: f.fingerprint, email_fp: emailFp, ip: f.ip,
        decision: 'pending', rules: '[]', created_at: at,
      }, ['id']);
      const id = typeof row === 'object' ? (row as { id: number | string }).id : row;

      const counts: Counts = { velocity: [], declines: null, dayTotals: [] };
      for (const v of rules.velocity) {
        const val = keyOf(v.key);
        if (!val) {
          counts.velocity.push(0);
          continue;
        }
        const col = v.key === 'card' ? 'fingerprint' : v.key === 'email' ? 'email_fp' : 'ip';
        const since = new Date(now.getTime() - v.window_minutes * 60_000).toISOString();
        const r = await trx('transaction_control_checks').where({ merchant_id: merchantId, [col]: val })
          .where('created_at', '>', since).count({ n: '*' }).first();
        counts.velocity.push(Number(r?.n ?? 0));
      }
      if (rules.card_declines && f.fingerprint) {
        const since = new Date(now.getTime() - rules.card_declines.window_minutes * 60_000).toISOString();
        // Declines by the provider (the engine's attempts, read only); risk refusals do not count.
        const r = await trx('transaction_control_checks as c')
          .join('payment_attempts as a', 'a.id', 'c.attempt_id')
          .where({ 'c.merchant_id': merchantId, 'c.fingerprint': f.fingerprint, 'a.status': 'declined' })
          .where('c.created_at', '>', since)
          .whereNot('c.attempt_id', ctx.attempt.id)
          .where((w) => w.whereNull('a.decline_reason').orWhereNotIn('a.decline_reason', ['risk_denied', 'risk_rejected']))
          .count({ n: '*' }).first();
        counts.declines = Number(r?.n ?? 0);
      }
      for (const r of rules.amount_per_day) {
        if (r.currency !== f.currency) {
          counts.dayTotals.push(0);
          continue;
        }
        // Attempts of the day not refused by this check nor declined/failed/canceled at the provider.
        const s = await trx('transaction_control_checks as c')
          .join('payment_attempts as a', 'a.id', 'c.attempt_id')
          .where({ 'c.merchant_id': merchantId, 'c.currency': f.currency, 'c.day': day })
          .whereNot('c.decision', 'deny')
          .whereNotIn('a.status', ['declined', 'failed', 'canceled'])
          .sum({ s: 'c.amount' }).first();
        counts.dayTotals.push(Number(s?.s ?? 0));
      }
      if (!f.ipCountry && f.ip && rules.country_mismatch) f.ipCountry = await ipCountry(trx, merchantId, f.ip);
      const ipBlocked = !!(f.ip && rules.blocklist && rules.blocklist.ip_ranges.length > 0 && inBlockList(blockListOf(rules.blocklist.ip_ranges), f.ip));
      const fired: Fired[] = evaluate(rules, f, counts, { ip: ipBlocked });
      const decision = decide(fired);
      await trx('transaction_control_checks').where({ id }).update({ decision, rules: JSON.stringify(fired) });
      return {
        decision,
        rules: fired.map((x) => ({ rule: x.rule, value: x.value, threshold: x.threshold })),
        reason: fired.length ? `transaction control: ${fired.map((x) => x.rule).join(', ')}` : undefined,
      };
    });
  }
}
