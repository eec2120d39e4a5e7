/**
 * Pure mapping between the bank's wire format and Payhub's types. No I/O here: easy to unit-test.
 * Rename the `Example*` types to your bank's and follow its API documentation field by field.
 */
import { bankResultFromStatus, createStatusMap, type AuthorizeRequest, type BankResult } from '@payhub/core';

/** What the bank expects on POST /payments (amounts in minor units, as Payhub keeps them). */
export interface ExamplePaymentRequest {
  /** Payhub's attempt id: the bank's idempotency key. Never generate a fresh one on retry. */
  order_id: string;
  amount: number;
  currency: string;
  auto_capture: boolean;
  card: { pan: string; exp_month: number; exp_year: number; cvc?: string };
  return_url?: string;
}

/** What the bank answers about a payment. */
export interface ExamplePaymentResponse {
  id: string;
  order_id: string;
  state: string;
  amount: number;
  captured_amount?: number;
  refunded_amount?: number;
  decline_code?: string;
  acs_url?: string;
}

/**
 * The bank's states. Only the ones its documentation calls final go to a definite class; everything else
 * (and any state added later) stays pending — the hub then asks status() again instead of guessing.
 */
export const mapState = createStatusMap({
  AUTHORIZED: 'authorized',
  CHARGED: 'captured',
  REVERSED: 'voided',
  REFUNDED: 'refunded',
  DECLINED: 'declined',
  REJECTED: 'declined',
  ACS_REQUIRED: 'pending',
  NEW: 'pending',
});

export function toPaymentRequest(req: AuthorizeRequest): ExamplePaymentRequest {
  if (req.source.type === 'account') throw new Error('this bank takes cards only');
  return {
    order_id: req.reference,
    amount: req.amount.amount,
    currency: req.amount.currency,
    auto_capture: req.capture,
    card: {
      pan: req.source.number,
      exp_month: req.source.expMonth,
      exp_year: req.source.expYear,
      ...(req.source.type === 'card' && req.source.cvc ? { cvc: req.source.cvc } : {}),
    },
    ...(req.returnUrl ? { return_url: req.returnUrl } : {}),
  };
}

export function fromPaymentResponse(p: ExamplePaymentResponse): BankResult {
  return bankResultFromStatus(mapState(p.state), {
    bankRef: p.id,
    rawStatus: p.state,
    ...(p.decline_code ? { reason: p.decline_code } : {}),
    amountAuthorized: p.amount,
    ...(p.captured_amount !== undefined ? { amountCaptured: p.captured_amount } : {}),
    ...(p.refunded_amount !== undefined ? { amountRefunded: p.refunded_amount } : {}),
    ...(p.acs_url ? { challenge: { url: p.acs_url } } : {}),
  });
}
