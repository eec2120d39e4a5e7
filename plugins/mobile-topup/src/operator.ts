/** Where a credit stands at the operator (the engine's outcome classes). */
export type CreditOutcome =
  | { kind: 'processed'; operatorRef?: string }
  | { kind: 'pending'; operatorRef?: string }
  | { kind: 'declined'; reason: string }
  /** Definitely not received by the operator: safe to send again with the same reference. */
  | { kind: 'not_sent'; reason: string }
  /** May have happened: ask status() before anything else. */
  | { kind: 'unknown'; reason?: string };

export interface CreditRequest {
  /** Our top-up id: the operator's idempotency key; a retry carries the same one. */
  readonly reference: string;
  /** E.164, e.g. +79161234567. */
  readonly msisdn: string;
  /** Minor units. */
  readonly amount: number;
  readonly currency: string;
}

/**
 * Extension point: a mobile operator that credits a subscriber's account. Plugins register operators under
 * OPERATOR (a multi-token); the operator serving a number is the one with the longest matching prefix.
 */
export interface TopupOperator {
  readonly id: string;
  readonly displayName: string;
  /** E.164 prefixes served, '+' included, e.g. ['+7900', '+7901']. */
  readonly prefixes: readonly string[];
  /** Currencies it takes; undefined means any. */
  readonly currencies?: readonly string[];
  credit(req: CreditRequest): Promise<CreditOutcome>;
  /** Where the credit with this reference stands; `not_sent` when the operator never saw it. */
  status(reference: string): Promise<CreditOutcome>;
}

/** DI token (multi): resolve with container.resolveAll<TopupOperator>(OPERATOR). */
export const OPERATOR: symbol = Symbol.for('payhub.mobile-topup.Operator');

/** The operator for an E.164 number: longest matching prefix wins; null when none serves it. */
export function findOperator(operators: readonly TopupOperator[], msisdn: string, currency?: string): TopupOperator | null {
  let best: { op: TopupOperator; len: number } | null = null;
  for (const op of operators) {
    if (currency && op.currencies && !op.currencies.includes(currency)) continue;
    for (const p of op.prefixes) if (msisdn.startsWith(p) && (!best || p.length > best.len)) best = { op, len: p.length };
  }
  return best?.op ?? null;
}
