import { invalid, toMajorString } from '@payhub/core';
import type { Clock, DashboardPanel, Db, MerchantsService, PanelData, PanelQuery } from '@payhub/core';

/*
 * Dashboard panels (TOKENS.DashboardPanel): the merchant's latest risk decisions, and the operator's view across
 * merchants. Structured data only; the dashboard renders and escapes it.
 */

const DECISIONS = ['allow', 'review', 'deny'] as const;

const TEXTS = {
  en: {
    time: 'Time', decision: 'Decision', rules: 'Rules fired', amount: 'Amount', card: 'Card', payment: 'Payment', merchant: 'Merchant',
    allow: 'allow', review: 'review', deny: 'deny', pending: 'in progress',
    allow24: 'Allowed, 24 h', review24: 'Sent to review, 24 h', deny24: 'Denied, 24 h', merchants24: 'Merchants with denials, 24 h',
    note: 'Newest first. Cards are shown masked, or by the first characters of their fingerprint.',
  },
  ru: {
    time: 'Время', decision: 'Решение', rules: 'Сработавшие правила', amount: 'Сумма', card: 'Карта', payment: 'Платёж', merchant: 'Магазин',
    allow: 'пропущен', review: 'на проверку', deny: 'отклонён', pending: 'в обработке',
    allow24: 'Пропущено за 24 ч', review24: 'На проверку за 24 ч', deny24: 'Отклонено за 24 ч', merchants24: 'Магазинов с отказами за 24 ч',
    note: 'Сначала новые. Карты показаны маской или первыми символами отпечатка.',
  },
};
type Texts = typeof TEXTS.en;
const textsOf = (lang: string): Texts => (lang === 'ru' ? TEXTS.ru : TEXTS.en);

export interface PanelDeps { db: () => Db; clock: () => Clock; merchants: () => MerchantsService | null }

interface CheckRow {
  id: number | string; attempt_id: string; merchant_id: string; amount: number | string; currency: string; fingerprint: string | null;
  decision: string; rules: string; created_at: string; method_data: string | null;
}

const time = (iso: string) => String(iso).replace('T', ' ').slice(0, 16);

function money(amount: number | string, currency: string): string {
  try {
    return `${toMajorString(Number(amount), currency)} ${currency}`;
  } catch {
    return `${amount} ${currency}`;
  }
}

/** The masked card number kept with the attempt, else the first characters of the card's fingerprint. */
function cardOf(r: CheckRow): string | null {
  try {
    const md = JSON.parse(String(r.method_data ?? '{}')) as Record<string, unknown>;
    if (typeof md.masked === 'string' && /^[0-9*•\s]{8,23}$/.test(md.masked)) return md.masked;
  } catch { /* fall back to the fingerprint */ }
  return r.fingerprint ? `${r.fingerprint.slice(0, 8)}…` : null;
}

function rulesOf(r: CheckRow): string | null {
  try {
    const fired = JSON.parse(String(r.rules ?? '[]')) as Array<{ rule?: unknown }>;
    const names = fired.map((f) => (typeof f.rule === 'string' ? f.rule : '')).filter(Boolean);
    return names.length ? names.join(', ') : null;
  } catch {
    return null;
  }
}

function decisionFilter(q: PanelQuery): string | null {
  const d = q.query.decision;
  if (d === undefined || d === '') return null;
  if (!(DECISIONS as readonly string[]).includes(d)) throw invalid('decision', 'must be allow, review or deny');
  return d;
}

abstract class DecisionsPanel implements DashboardPanel {
  abstract readonly id: string;
  abstract readonly title: Record<string, string>;
  abstract readonly audience: 'merchant' | 'operator';
  constructor(protected readonly d: PanelDeps) {}
  abstract load(q: PanelQuery): Promise<PanelData>;

  /** allow/review/deny counts of the last 24 hours (of one merchant, or of all). */
  protected async counts(merchantId: string | null): Promise<Record<string, number>> {
    const since = new Date(this.d.clock().now().getTime() - 86_400_000).toISOString();
    let qb = this.d.db()('transaction_control_checks').where('created_at', '>', since).whereIn('decision', DECISIONS as unknown as string[]);
    if (merchantId) qb = qb.where({ merchant_id: merchantId });
    const rows = await qb.select('decision').count({ n: '*' }).groupBy('decision');
    const out: Record<string, number> = { allow: 0, review: 0, deny: 0 };
    for (const r of rows as Array<{ decision: string; n: unknown }>) out[r.decision] = Number(r.n);
    return out;
  }

  /** The latest decisions, newest first; the masked card comes from the engine's attempt (read only). */
  protected async latest(merchantId: string | null, decision: string | null, limit: number): Promise<CheckRow[]> {
    let qb = this.d.db()('transaction_control_checks as c').leftJoin('payment_attempts as a', 'a.id', 'c.attempt_id');
    if (merchantId) qb = qb.where('c.merchant_id', merchantId);
    if (decision) qb = qb.where('c.decision', decision);
    return qb.select('c.id', 'c.attempt_id', 'c.merchant_id', 'c.amount', 'c.currency', 'c.fingerprint', 'c.decision', 'c.rules', 'c.created_at', 'a.method_data')
      .orderBy('c.id', 'desc').limit(Math.max(1, Math.min(limit, 200))) as Promise<CheckRow[]>;
  }

  protected filters(t: Texts): PanelData['filters'] {
    return [{ key: 'decision', label: t.decision, options: DECISIONS.map((v) => ({ value: v, label: t[v] })) }];
  }

  protected row(t: Texts, r: CheckRow): Record<string, string | number | null> {
    return {
      time: time(r.created_at), decision: t[r.decision as keyof Texts] ?? r.decision, rules: rulesOf(r), amount: money(r.amount, r.currency),
      card: cardOf(r), payment: r.attempt_id,
    };
  }
}

/** The merchant's latest risk decisions with the rules that fired; counts of the last 24 hours. */
export class MerchantDecisionsPanel extends DecisionsPanel {
  readonly id = 'risk-decisions';
  readonly title = { en: 'Risk decisions', ru: 'Решения антифрода' };
  readonly audience = 'merchant' as const;

  async load(q: PanelQuery): Promise<PanelData> {
    const t = textsOf(q.lang);
    if (!q.merchantId) return { columns: [], rows: [] };
    const decision = decisionFilter(q);
    const counts = await this.counts(q.merchantId);
    const rows = await this.latest(q.merchantId, decision, q.limit);
    return {
      summary: [{ label: t.allow24, value: String(counts.allow) }, { label: t.review24, value: String(counts.review) }, { label: t.deny24, value: String(counts.deny) }],
      filters: this.filters(t),
      columns: [
        { key: 'time', label: t.time }, { key: 'decision', label: t.decision }, { key: 'rules', label: t.rules }, { key: 'amount', label: t.amount },
        { key: 'card', label: t.card }, { key: 'payment', label: t.payment },
      ],
      rows: rows.map((r) => this.row(t, r)),
      note: t.note,
    };
  }
}

/** The operator's view: decisions across merchants, counts of the last 24 hours. */
export class OperatorDecisionsPanel extends DecisionsPanel {
  readonly id = 'risk-decisions-all';
  readonly title = { en: 'Risk decisions (all merchants)', ru: 'Решения антифрода (все магазины)' };
  readonly audience = 'operator' as const;

  async load(q: PanelQuery): Promise<PanelData> {
    const t = textsOf(q.lang);
    const decision = decisionFilter(q);
    const counts = await this.counts(null);
    const since = new Date(this.d.clock().now().getTime() - 86_400_000).toISOString();
    const denying = await this.d.db()('transaction_control_checks').where('created_at', '>', since).where({ decision: 'deny' })
      .countDistinct({ n: 'merchant_id' }).first();
    const rows = await this.latest(null, decision, q.limit);
    const names = new Map<string, string>();
    const merchants = this.d.merchants();
    for (const id of new Set(rows.map((r) => r.merchant_id))) {
      const m = merchants ? await merchants.get(id).catch(() => null) : null;
      names.set(id, m ? `${m.name} (${id})` : id);
    }
    return {
      summary: [
        { label: t.allow24, value: String(counts.allow) }, { label: t.review24, value: String(counts.review) }, { label: t.deny24, value: String(counts.deny) },
        { label: t.merchants24, value: String(Number((denying as { n?: unknown } | undefined)?.n ?? 0)) },
      ],
      filters: this.filters(t),
      columns: [
        { key: 'time', label: t.time }, { key: 'merchant', label: t.merchant }, { key: 'decision', label: t.decision }, { key: 'rules', label: t.rules },
        { key: 'amount', label: t.amount }, { key: 'card', label: t.card }, { key: 'payment', label: t.payment },
      ],
      rows: rows.map((r) => ({ ...this.row(t, r), merchant: names.get(r.merchant_id) ?? r.merchant_id })),
      note: t.note,
    };
  }
}
