import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { invalid, toMajorString } from '@payhub/core';
import type { DashboardPanel, Db, PanelData, PanelQuery } from '@payhub/core';
import type { TopupOperator } from './operator';
import type { TopupRow } from './service';

/*
 * Dashboard panels (TOKENS.DashboardPanel): the merchant's latest top-ups with their credit outcome, and the
 * operator's list of credits that are stuck or unknown. Phone numbers are masked (+7******4567).
 */

const STATUSES = ['awaiting_payment', 'ready', 'sending', 'pending', 'unknown', 'processed', 'declined', 'canceled'] as const;
/** Credits whose outcome is open at the operator. */
const OPEN = ['sending', 'pending', 'unknown'];

const TEXTS = {
  en: {
    time: 'Created', updated: 'Updated', topup: 'Top-up', phone: 'Phone', amount: 'Amount', operator: 'Operator', source: 'Paid by', status: 'Status',
    outcome: 'Credit outcome', merchant: 'Merchant', attempts: 'Credit calls', checks: 'Status checks', next: 'Next check',
    src_order: 'order', src_cash: 'cash',
    awaiting_payment: 'awaiting payment', ready: 'ready to credit', sending: 'sending', pending: 'pending at the operator', unknown: 'unknown',
    processed: 'credited', declined: 'declined', canceled: 'canceled',
    out_processed: 'credited', out_declined: 'declined by the operator', out_open: 'not confirmed yet', out_waiting: 'waits for the payment',
    out_ready: 'queued for crediting', out_canceled: 'not credited (order not paid)', refund: 'refund', ref: 'operator ref.',
    total: 'Top-ups', credited: 'Credited', declinedN: 'Declined', open: 'Not confirmed yet', awaiting: 'Awaiting payment',
    stuckUnknown: 'Unknown', stuckPending: 'Pending', stuckSending: 'Sending (lease may have run out)', retrying: 'Waiting to be sent again',
    refundFailed: 'Declined, refund failed', oldest: 'Oldest open since',
    note: 'Newest first. Phone numbers are masked.',
    opNote: 'Credits whose outcome is open (sending, pending, unknown), retried ones, and declined paid top-ups whose refund failed. The worker asks the operator again on its schedule.',
  },
  ru: {
    time: 'Создано', updated: 'Обновлено', topup: 'Пополнение', phone: 'Телефон', amount: 'Сумма', operator: 'Оператор', source: 'Оплата', status: 'Статус',
    outcome: 'Зачисление', merchant: 'Магазин', attempts: 'Вызовов зачисления', checks: 'Проверок статуса', next: 'Следующая проверка',
    src_order: 'заказ', src_cash: 'наличные',
    awaiting_payment: 'ждёт оплаты', ready: 'готово к зачислению', sending: 'отправляется', pending: 'в обработке у оператора', unknown: 'неизвестно',
    processed: 'зачислено', declined: 'отклонено', canceled: 'отменено',
    out_processed: 'зачислено', out_declined: 'отклонено оператором', out_open: 'ещё не подтверждено', out_waiting: 'ждёт оплаты',
    out_ready: 'в очереди на зачисление', out_canceled: 'не зачислено (заказ не оплачен)', refund: 'возврат', ref: 'номер у оператора',
    total: 'Пополнений', credited: 'Зачислено', declinedN: 'Отклонено', open: 'Ещё не подтверждено', awaiting: 'Ждут оплаты',
    stuckUnknown: 'Неизвестно', stuckPending: 'В обработке', stuckSending: 'Отправляются (аренда могла истечь)', retrying: 'Ждут повторной отправки',
    refundFailed: 'Отклонены, возврат не прошёл', oldest: 'Самое старое открытое с',
    note: 'Сначала новые. Номера телефонов скрыты.',
    opNote: 'Зачисления с открытым исходом (отправляется, в обработке, неизвестно), повторные и отклонённые оплаченные пополнения с неудавшимся возвратом. Фоновая задача опрашивает оператора по расписанию.',
  },
};
type Texts = typeof TEXTS.en;
const textsOf = (lang: string): Texts => (lang === 'ru' ? TEXTS.ru : TEXTS.en);

/** +7******4567: the country calling code and the last 4 digits. */
export function maskPhone(msisdn: string): string {
  const digits = msisdn.replace(/\D/g, '');
  if (digits.length <= 4) return '*'.repeat(digits.length);
  const cc = parsePhoneNumberFromString(msisdn)?.countryCallingCode ?? digits.slice(0, 1);
  const keep = digits.startsWith(cc) && cc.length + 4 < digits.length ? cc : '';
  return `+${keep}${'*'.repeat(digits.length - keep.length - 4)}${digits.slice(-4)}`;
}

const time = (iso: string | null) => (iso ? String(iso).replace('T', ' ').slice(0, 16) : null);

function money(amount: number | string, currency: string): string {
  try {
    return `${toMajorString(Number(amount), currency)} ${currency}`;
  } catch {
    return `${amount} ${currency}`;
  }
}

function outcome(t: Texts, r: TopupRow): string {
  switch (r.status) {
    case 'processed': return r.operator_ref ? `${t.out_processed} (${t.ref} ${r.operator_ref})` : t.out_processed;
    case 'declined': return `${t.out_declined}${r.decline_reason ? `: ${r.decline_reason}` : ''}${r.refund_status ? `; ${t.refund}: ${r.refund_status}` : ''}`;
    case 'sending': case 'pending': case 'unknown': return `${t.out_open} (${t.checks}: ${r.status_checks})`;
    case 'awaiting_payment': return t.out_waiting;
    case 'ready': return t.out_ready;
    case 'canceled': return t.out_canceled;
    default: return r.status;
  }
}

export interface PanelDeps { db: () => Db; operators: () => TopupOperator[] }

abstract class TopupsPanelBase implements DashboardPanel {
  abstract readonly id: string;
  abstract readonly title: Record<string, string>;
  abstract readonly audience: 'merchant' | 'operator';
  constructor(protected readonly d: PanelDeps) {}
  abstract load(q: PanelQuery): Promise<PanelData>;

  protected operatorName(id: string): string {
    try {
      return this.d.operators().find((o) => o.id === id)?.displayName ?? id;
    } catch {
      return id;
    }
  }

  protected row(t: Texts, r: TopupRow): Record<string, string | number | null> {
    return {
      time: time(r.created_at), topup: r.id, phone: maskPhone(r.msisdn), amount: money(r.amount, r.currency), operator: this.operatorName(r.operator_id),
      source: r.source === 'cash' ? t.src_cash : t.src_order, status: (t as Record<string, string>)[r.status] ?? r.status, outcome: outcome(t, r),
    };
  }
}

/** The merchant's latest top-ups: masked number, amount, operator, status and what came of the credit. */
export class MerchantTopupsPanel extends TopupsPanelBase {
  readonly id = 'topups';
  readonly title = { en: 'Top-ups', ru: 'Пополнения' };
  readonly audience = 'merchant' as const;

  async load(q: PanelQuery): Promise<PanelData> {
    const t = textsOf(q.lang);
    if (!q.merchantId) return { columns: [], rows: [] };
    const status = q.query.status || null;
    if (status && !(STATUSES as readonly string[]).includes(status)) throw invalid('status', `must be one of ${STATUSES.join(', ')}`);
    const db = this.d.db();
    const counts = new Map<string, number>();
    for (const c of await db('mobile_topup_topups').where({ merchant_id: q.merchantId }).select('status').count({ n: '*' }).groupBy('status') as Array<{ status: string; n: unknown }>) {
      counts.set(c.status, Number(c.n));
    }
    const sum = (ss: readonly string[]) => ss.reduce((a, s) => a + (counts.get(s) ?? 0), 0);
    let qb = db<TopupRow>('mobile_topup_topups').where({ merchant_id: q.merchantId });
    if (status) qb = qb.where({ status });
    const rows = await qb.orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).limit(Math.max(1, Math.min(q.limit, 200)));
    return {
      summary: [
        { label: t.total, value: String(sum(STATUSES)) }, { label: t.credited, value: String(sum(['processed'])) },
        { label: t.declinedN, value: String(sum(['declined'])) }, { label: t.open, value: String(sum(['ready', ...OPEN])) },
        { label: t.awaiting, value: String(sum(['awaiting_payment'])) },
      ],
      filters: [{ key: 'status', label: t.status, options: STATUSES.map((s) => ({ value: s, label: (t as Record<string, string>)[s] ?? s })) }],
      columns: [
        { key: 'time', label: t.time }, { key: 'phone', label: t.phone }, { key: 'amount', label: t.amount }, { key: 'operator', label: t.operator },
        { key: 'source', label: t.source }, { key: 'status', label: t.status }, { key: 'outcome', label: t.outcome }, { key: 'topup', label: t.topup },
      ],
      rows: rows.map((r) => this.row(t, r)),
      note: t.note,
    };
  }
}

/** The operator's view: credits stuck or of unknown outcome across merchants, oldest first. */
export class StuckTopupsPanel extends TopupsPanelBase {
  readonly id = 'topups-stuck';
  readonly title = { en: 'Top-ups: stuck and unknown credits', ru: 'Пополнения: зависшие и неизвестные зачисления' };
  readonly audience = 'operator' as const;

  async load(q: PanelQuery): Promise<PanelData> {
    const t = textsOf(q.lang);
    const db = this.d.db();
    const stuck = () => db<TopupRow>('mobile_topup_topups').where((w) => w
      .whereIn('status', OPEN)
      .orWhere((x) => x.where({ status: 'ready' }).where('credit_attempts', '>', 0))
      .orWhere((x) => x.where({ status: 'declined', refund_status: 'failed' })));
    const rows = await stuck().orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id', order: 'asc' }]).limit(Math.max(1, Math.min(q.limit, 200)));
    const counts = new Map<string, number>();
    for (const c of await stuck().select('status').count({ n: '*' }).groupBy('status') as Array<{ status: string; n: unknown }>) counts.set(c.status, Number(c.n));
    const oldest = rows.find((r) => OPEN.includes(r.status));
    return {
      summary: [
        { label: t.stuckUnknown, value: String(counts.get('unknown') ?? 0) }, { label: t.stuckPending, value: String(counts.get('pending') ?? 0) },
        { label: t.stuckSending, value: String(counts.get('sending') ?? 0) }, { label: t.retrying, value: String(counts.get('ready') ?? 0) },
        { label: t.refundFailed, value: String(counts.get('declined') ?? 0) }, { label: t.oldest, value: oldest ? time(oldest.created_at)! : '—' },
      ],
      columns: [
        { key: 'time', label: t.time }, { key: 'updated', label: t.updated }, { key: 'merchant', label: t.merchant }, { key: 'topup', label: t.topup },
        { key: 'phone', label: t.phone }, { key: 'amount', label: t.amount }, { key: 'operator', label: t.operator }, { key: 'status', label: t.status },
        { key: 'attempts', label: t.attempts }, { key: 'checks', label: t.checks }, { key: 'next', label: t.next }, { key: 'outcome', label: t.outcome },
      ],
      rows: rows.map((r) => ({
        ...this.row(t, r), updated: time(r.updated_at), merchant: r.merchant_id, attempts: Number(r.credit_attempts), checks: Number(r.status_checks),
        next: time(r.next_check_at),
      })),
      note: t.opNote,
    };
  }
}
