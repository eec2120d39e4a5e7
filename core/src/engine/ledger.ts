import type { Knex } from 'knex';
import { newId } from '../sdk/util';

/*
 * Double-entry ledger in integer minor units. Accounts:
 *   merchant:<id>:pending    uncaptured authorizations owed to the merchant once captured
 *   merchant:<id>:available  captured funds owed to the merchant
 *   holds                    memo account mirroring authorizations
 *   acquirer:<method>        receivable from the acquirer / provider
 *   fees                     the hub's fee revenue
 * Every posting is balanced (sum of debits = sum of credits) and written in the caller's transaction.
 */
export type PostingKind = 'authorization' | 'capture' | 'release' | 'void' | 'refund' | 'fee' | 'fee_reversal' | (string & {});

export interface Leg { account: string; debit?: number; credit?: number }

export const accounts = {
  pending: (m: string) => `merchant:${m}:pending`,
  available: (m: string) => `merchant:${m}:available`,
  holds: 'holds',
  acquirer: (method: string) => `acquirer:${method}`,
  fees: 'fees',
};

export async function post(trx: Knex.Transaction, p: {
  kind: PostingKind; merchantId: string; currency: string; refId: string; at: string; legs: Leg[];
}): Promise<string> {
  let dr = 0;
  let cr = 0;
  for (const l of p.legs) {
    const d = l.debit ?? 0;
    const c = l.credit ?? 0;
    if (!Number.isSafeInteger(d) || !Number.isSafeInteger(c) || d < 0 || c < 0) throw new RangeError('ledger amounts must be non-negative integers');
    dr += d;
    cr += c;
  }
  if (dr !== cr || dr === 0) throw new Error(`unbalanced posting ${p.kind}: debits ${dr} != credits ${cr}`);
  const postingId = newId('pst');
  await trx('ledger_entries').insert(p.legs.map((l) => ({
    posting_id: postingId, merchant_id: p.merchantId, account: l.account, currency: p.currency,
    debit: l.debit ?? 0, credit: l.credit ?? 0, kind: p.kind, ref_id: p.refId, created_at: p.at,
  })));
  return postingId;
}

/** Balance of one account (credits − debits) per currency. */
export async function balances(db: Knex, merchantId: string): Promise<Array<{ currency: string; pending: number; available: number }>> {
  const rows = await db('ledger_entries')
    .where({ merchant_id: merchantId })
    .whereIn('account', [accounts.pending(merchantId), accounts.available(merchantId)])
    .select('currency', 'account')
    .sum({ cr: 'credit' })
    .sum({ dr: 'debit' })
    .groupBy('currency', 'account');
  const out = new Map<string, { currency: string; pending: number; available: number }>();
  for (const r of rows as Array<{ currency: string; account: string; cr: number | string; dr: number | string }>) {
    const b = out.get(r.currency) ?? { currency: r.currency, pending: 0, available: 0 };
    const v = Number(r.cr) - Number(r.dr);
    if (r.account.endsWith(':pending')) b.pending += v;
    else b.available += v;
    out.set(r.currency, b);
  }
  return [...out.values()].sort((a, b) => a.currency.localeCompare(b.currency));
}

/** The ledger as plugins see it (TOKENS.Ledger). */
export function ledgerService(db: Knex, clock: { now(): Date }) {
  return {
    async post(p: { kind: string; merchantId: string | null; currency: string; refId: string; legs: Leg[] }, trx?: Knex.Transaction): Promise<string> {
      if (!/^[A-Z0-9]{3}$/.test(p.currency)) throw new RangeError('ledger currency must be 3 upper-case letters or digits');
      if (p.kind.length > 24 || ['authorization', 'capture', 'release', 'void', 'refund', 'fee', 'fee_reversal'].includes(p.kind)) throw new RangeError(`posting kind ${p.kind} is reserved or too long`);
      const run = (t: Knex.Transaction) => post(t, { ...p, merchantId: p.merchantId as string, at: clock.now().toISOString() });
      return trx ? run(trx) : db.transaction(run);
    },
    async balance(account: string, currency: string, trx?: Knex.Transaction): Promise<number> {
      const r = await (trx ?? db)('ledger_entries').where({ account, currency }).sum({ cr: 'credit' }).sum({ dr: 'debit' }).first();
      return Number((r as { cr: unknown })?.cr ?? 0) - Number((r as { dr: unknown })?.dr ?? 0);
    },
  };
}
