import type { DashboardPanel, Db, LedgerService, PanelData, PanelQuery } from '@payhub/core';
import { POINTS, account } from './service';

/*
 * Dashboard panel (TOKENS.DashboardPanel): the merchant's loyalty program at a glance — cards, points issued, spent
 * and outstanding (from the ledger), and the latest movements. Card numbers are masked; secret codes are never
 * stored, so never shown.
 */

const TEXTS = {
  en: {
    cards: 'Active cards', issued: 'Points issued', spent: 'Points spent', outstanding: 'Points outstanding',
    time: 'Time', card: 'Card', holder: 'Holder', movement: 'Movement', points: 'Points', ref: 'Reference',
    loyalty_earn: 'earned', loyalty_earn_reversal: 'earn reversed (refund)', loyalty_spend: 'spent', loyalty_spend_return: 'spend returned',
    loyalty_adjust: 'adjustment', adjust_ref: 'manual adjustment',
    note: 'Points (PTS) in the ledger: issued = earned and adjusted, less reversals; spent = paid with, less returns; outstanding = on the cards.',
  },
  ru: {
    cards: 'Активных карт', issued: 'Начислено баллов', spent: 'Списано баллов', outstanding: 'Баллов на картах',
    time: 'Время', card: 'Карта', holder: 'Держатель', movement: 'Операция', points: 'Баллы', ref: 'Основание',
    loyalty_earn: 'начисление', loyalty_earn_reversal: 'отмена начисления (возврат)', loyalty_spend: 'оплата баллами', loyalty_spend_return: 'возврат баллов',
    loyalty_adjust: 'корректировка', adjust_ref: 'ручная корректировка',
    note: 'Баллы (PTS) в главной книге: начислено — начисления и корректировки за вычетом отмен; списано — оплаты баллами за вычетом возвратов; на картах — остаток.',
  },
};
type Texts = typeof TEXTS.en;

/** 9643********1234: the first 4 and the last 4 digits. */
export function maskCardNumber(n: string): string {
  if (n.length <= 8) return '*'.repeat(n.length);
  return `${n.slice(0, 4)}${'*'.repeat(n.length - 8)}${n.slice(-4)}`;
}

const time = (iso: unknown) => String(iso ?? '').replace('T', ' ').slice(0, 16);
const CARD_PREFIX = 'loyalty:card:';

export class LoyaltyPanel implements DashboardPanel {
  readonly id = 'loyalty';
  readonly title = { en: 'Loyalty', ru: 'Программа лояльности' };
  readonly audience = 'merchant' as const;

  constructor(private readonly d: { db: () => Db; ledger: () => LedgerService }) {}

  async load(q: PanelQuery): Promise<PanelData> {
    const t: Texts = q.lang === 'ru' ? TEXTS.ru : TEXTS.en;
    const m = q.merchantId;
    if (!m) return { columns: [], rows: [] };
    const db = this.d.db();
    const ledger = this.d.ledger();
    const cards = await db('loyalty_cards').where({ merchant_id: m, status: 'active' }).count({ n: '*' }).first();
    // The issued account is debited by every earn: its balance (credits − debits) is minus the points issued.
    const issued = -(await ledger.balance(account.issued(m), POINTS));
    const spent = await ledger.balance(account.redeemed(m), POINTS);
    const moves = await db('ledger_entries').where({ merchant_id: m, currency: POINTS }).where('account', 'like', `${CARD_PREFIX}%`)
      .orderBy('id', 'desc').limit(Math.max(1, Math.min(q.limit, 200)))
      .select('account', 'kind', 'debit', 'credit', 'ref_id', 'created_at') as Array<{ account: string; kind: string; debit: unknown; credit: unknown; ref_id: string; created_at: unknown }>;
    const numbers = [...new Set(moves.map((x) => x.account.slice(CARD_PREFIX.length)))];
    const holders = new Map<string, string | null>();
    if (numbers.length) {
      for (const c of await db('loyalty_cards').where({ merchant_id: m }).whereIn('number', numbers).select('number', 'holder_name')) {
        holders.set(String(c.number), c.holder_name ?? null);
      }
    }
    return {
      summary: [
        { label: t.cards, value: String(Number((cards as { n?: unknown } | undefined)?.n ?? 0)) },
        { label: t.issued, value: String(issued) },
        { label: t.spent, value: String(spent) },
        { label: t.outstanding, value: String(issued - spent) },
      ],
      columns: [
        { key: 'time', label: t.time }, { key: 'card', label: t.card }, { key: 'holder', label: t.holder },
        { key: 'movement', label: t.movement }, { key: 'points', label: t.points }, { key: 'ref', label: t.ref },
      ],
      rows: moves.map((x) => {
        const number = x.account.slice(CARD_PREFIX.length);
        return {
          time: time(x.created_at), card: maskCardNumber(number), holder: holders.get(number) ?? null,
          movement: (t as Record<string, string>)[x.kind] ?? x.kind, points: Number(x.credit) - Number(x.debit),
          // An adjustment's reference is the card number itself: never shown in full.
          ref: x.ref_id === number ? t.adjust_ref : x.ref_id,
        };
      }),
      note: t.note,
    };
  }
}
