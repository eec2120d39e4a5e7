import { z } from 'zod';
import { definePlugin, invalid, TOKENS } from '@payhub/core';
import type { RegisterContext, RiskCheck } from '@payhub/core';
import type { Context } from 'koa';
import { TransactionControl, loadRules } from './check';
import { cidrRange, parseCidr } from './ip';
import { migrations } from './migrations';
import { openapi } from './openapi';
import { parseOrThrow, rulesSchema } from './rules';
import { MerchantDecisionsPanel, OperatorDecisionsPanel, type PanelDeps } from './panels';

export { TransactionControl } from './check';
export { MerchantDecisionsPanel, OperatorDecisionsPanel } from './panels';
export { rulesSchema, evaluate, decide } from './rules';
export type { Rules, Fired, Facts } from './rules';

const options = z.strictObject({
  /** What an attempt gets when the check itself fails (e.g. the database is unreachable). */
  onError: z.enum(['allow', 'review', 'deny']).default('review'),
});
type Options = z.infer<typeof options>;

const ipCountriesSchema = z.strictObject({
  ranges: z.array(z.strictObject({
    cidr: z.string().max(64).refine((s) => parseCidr(s) !== null, 'must be an IP address or a CIDR range'),
    country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code'),
  })).max(50_000),
});

function intParam(v: unknown, field: string, min: number, max: number, dflt: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(field, `must be a whole number from ${min} to ${max}`);
  return n;
}

const body = (c: Context): unknown => (c.request as { body?: unknown }).body ?? {};

function decisionJson(r: Record<string, unknown>) {
  return {
    id: String(r.id), object: 'risk_decision', decision: r.decision, payment_id: r.attempt_id, order_id: r.order_id,
    method: r.method, amount: Number(r.amount), currency: r.currency, ip: r.ip ?? null, card_fingerprint: r.fingerprint ?? null,
    rules: JSON.parse(String(r.rules ?? '[]')), created_at: r.created_at,
  };
}

export default definePlugin<Options>({
  name: 'transaction-control',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'risk',
  description: 'Transaction control: per-merchant limits, velocity, block lists and country rules before a payment is sent',
  options,
  migrations,
  openapi,
  register(ctx) {
    ctx.provide<RiskCheck>(TOKENS.RiskCheck, {
      useFactory: (c) => new TransactionControl({
        db: () => c.resolve(TOKENS.Db), clock: () => c.resolve(TOKENS.Clock), keyring: () => c.resolve(TOKENS.Keyring),
        logger: ctx.logger, onError: ctx.options.onError,
      }),
    });
    // Dashboard panels (shown when a dashboard plugin is loaded; nothing happens otherwise).
    const deps = (c: RegisterContext<Options>['container']): PanelDeps => ({
      db: () => c.resolve(TOKENS.Db), clock: () => c.resolve(TOKENS.Clock),
      merchants: () => (c.isRegistered(TOKENS.Merchants, true) ? c.resolve(TOKENS.Merchants) : null),
    });
    ctx.provide(TOKENS.DashboardPanel, { useFactory: (c) => new MerchantDecisionsPanel(deps(c)) });
    ctx.provide(TOKENS.DashboardPanel, { useFactory: (c) => new OperatorDecisionsPanel(deps(c)) });
  },
  routes(router, ctx) {
    const db = ctx.container.resolve(TOKENS.Db);
    const clock = ctx.container.resolve(TOKENS.Clock);
    const mid = (c: Context): string => c.state.merchant.id;

    router.get('/v1/risk/rules', ctx.requireMerchant, async (c) => {
      c.body = { object: 'risk_rules', rules: await loadRules(db, mid(c)) };
    });

    router.put('/v1/risk/rules', ctx.requireMerchant, async (c) => {
      const b = body(c) as Record<string, unknown>;
      const rules = parseOrThrow(rulesSchema, b.rules ?? b, b.rules !== undefined ? 'rules' : '');
      const at = clock.now().toISOString();
      const text = JSON.stringify(rules);
      await db('transaction_control_rules').insert({ merchant_id: mid(c), rules: text, updated_at: at })
        .onConflict('merchant_id').merge({ rules: text, updated_at: at });
      await ctx.container.resolve(TOKENS.Payments).audit({ merchantId: mid(c), actor: 'merchant', action: 'risk.rules_updated' });
      c.body = { object: 'risk_rules', rules };
    });

    router.get('/v1/risk/decisions', ctx.requireMerchant, async (c) => {
      const q = c.query;
      const limit = intParam(q.limit, 'limit', 1, 100, 20);
      let qb = db('transaction_control_checks').where({ merchant_id: mid(c) });
      if (q.decision !== undefined) {
        if (!['allow', 'review', 'deny'].includes(String(q.decision))) throw invalid('decision', 'must be allow, review or deny');
        qb = qb.where({ decision: String(q.decision) });
      }
      if (q.order_id !== undefined) qb = qb.where({ order_id: String(q.order_id) });
      if (q.payment_id !== undefined) qb = qb.where({ attempt_id: String(q.payment_id) });
      if (q.rule !== undefined) {
        const rule = String(q.rule);
        if (!/^[a-z_]{2,40}$/.test(rule)) throw invalid('rule', 'is not a rule name');
        qb = qb.where('rules', 'like', `%"rule":"${rule}"%`);
      }
      for (const [p, op] of [['created_from', '>='], ['created_to', '<']] as const) {
        if (q[p] === undefined) continue;
        const t = Date.parse(String(q[p]));
        if (Number.isNaN(t)) throw invalid(p, 'must be an ISO-8601 date-time');
        qb = qb.where('created_at', op, new Date(t).toISOString());
      }
      if (q.starting_after !== undefined) qb = qb.where('id', '<', intParam(q.starting_after, 'starting_after', 1, Number.MAX_SAFE_INTEGER, 0));
      const rows = await qb.orderBy('id', 'desc').limit(limit + 1);
      const data = rows.slice(0, limit).map(decisionJson);
      c.body = { object: 'list', data, has_more: rows.length > limit, next_cursor: rows.length > limit ? data[data.length - 1]!.id : null };
    });

    // The merchant's IP → country table, for the country_mismatch rule. Replaces the whole table.
    router.put('/v1/risk/ip-countries', ctx.requireMerchant, async (c) => {
      const input = parseOrThrow(ipCountriesSchema, body(c));
      const rows = input.ranges.map((r) => {
        const { start, end } = cidrRange(parseCidr(r.cidr)!);
        return { merchant_id: mid(c), start_hex: start, end_hex: end, country: r.country };
      });
      await db.transaction(async (trx) => {
        await trx('transaction_control_ip_countries').where({ merchant_id: mid(c) }).delete();
        for (let i = 0; i < rows.length; i += 500) await trx('transaction_control_ip_countries').insert(rows.slice(i, i + 500));
      });
      c.body = { object: 'ip_countries', count: rows.length };
    });

    router.get('/v1/risk/ip-countries', ctx.requireMerchant, async (c) => {
      const r = await db('transaction_control_ip_countries').where({ merchant_id: mid(c) }).count({ n: '*' }).first();
      c.body = { object: 'ip_countries', count: Number(r?.n ?? 0) };
    });
  },
});
