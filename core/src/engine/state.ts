import type { AttemptStatus, MethodOutcome, OrderStatus } from '../sdk/payments';

/** The one table of allowed order transitions. Terminal states have none. */
export const ORDER_TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  created: ['processing', 'requires_action', 'authorized', 'paid', 'canceled', 'expired'],
  processing: ['created', 'requires_action', 'authorized', 'paid', 'canceled', 'expired'],
  requires_action: ['processing', 'created', 'authorized', 'paid', 'canceled', 'expired'],
  authorized: ['processing', 'paid', 'canceled', 'expired'],
  paid: ['partially_refunded', 'refunded'],
  partially_refunded: ['refunded'],
  refunded: [],
  canceled: [],
  expired: [],
};

/** The one table of allowed payment-attempt transitions. */
export const ATTEMPT_TRANSITIONS: Readonly<Record<AttemptStatus, readonly AttemptStatus[]>> = {
  pending: ['requires_action', 'authorized', 'captured', 'declined', 'failed', 'unknown', 'canceled'],
  requires_action: ['pending', 'authorized', 'captured', 'declined', 'failed', 'unknown', 'canceled'],
  unknown: ['pending', 'requires_action', 'authorized', 'captured', 'declined', 'failed', 'canceled'],
  authorized: ['captured', 'canceled'],
  captured: [],
  declined: [],
  failed: [],
  canceled: [],
};

export const TERMINAL_ORDER: ReadonlySet<OrderStatus> = new Set(['refunded', 'canceled', 'expired']);
export const TERMINAL_ATTEMPT: ReadonlySet<AttemptStatus> = new Set(['captured', 'declined', 'failed', 'canceled']);
/** Attempt states in which the outcome is not yet known or not yet final. */
export const OPEN_ATTEMPT: ReadonlySet<AttemptStatus> = new Set(['pending', 'requires_action', 'unknown']);

export function canOrder(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_TRANSITIONS[from].includes(to);
}
export function canAttempt(from: AttemptStatus, to: AttemptStatus): boolean {
  return ATTEMPT_TRANSITIONS[from].includes(to);
}

/** Attempt status that an outcome leads to. */
export function attemptStatusFor(o: MethodOutcome): AttemptStatus {
  switch (o.kind) {
    case 'processed': return o.status;
    case 'requires_action': return 'requires_action';
    case 'pending': return 'pending';
    case 'declined': return 'declined';
    case 'canceled': return 'canceled';
    case 'not_sent': return 'failed';
    case 'unknown': return 'unknown';
  }
}

/** Order status that follows from its (only active) attempt's status. */
export function orderStatusFor(a: AttemptStatus): OrderStatus {
  switch (a) {
    case 'captured': return 'paid';
    case 'authorized': return 'authorized';
    case 'requires_action': return 'requires_action';
    case 'pending':
    case 'unknown': return 'processing';
    case 'declined':
    case 'failed':
    case 'canceled': return 'created';
  }
}
