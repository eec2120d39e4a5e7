/**
 * Wire format of the sandbox bank API (`/api/v1/...`). JSON, amounts in integer minor units.
 * Shared by the emulator and the adapter; documented in the README.
 */

export type WireFundingSource =
  | { type: 'card'; number: string; expMonth: number; expYear: number; cvc?: string; holder?: string }
  | { type: 'account'; accountNumber: string };

export interface WireAuthorizeRequest {
  reference: string;
  amount: number;
  currency: string;
  capture: boolean;
  source: WireFundingSource;
  description?: string;
  returnUrl?: string;
}

export type WirePaymentStatus =
  | 'challenge_required' | 'authorized' | 'captured' | 'partially_refunded' | 'refunded' | 'voided' | 'declined';

/** The bank's view of one payment; what authorize and status answer. */
export interface WirePayment {
  reference: string;
  bankRef: string;
  status: WirePaymentStatus;
  amount: number;
  currency: string;
  authorized: number;
  captured: number;
  refunded: number;
  authCode?: string;
  declineReason?: string;
  challengeUrl?: string;
  challengeExpiresAt?: string;
  source: { type: 'card'; maskedPan: string; brand?: string } | { type: 'account'; accountNumber: string };
  createdAt: string;
}

/** Answer of capture and void. */
export interface WireOperationAnswer {
  approved: boolean;
  reason?: string;
  payment: WirePayment;
}

export interface WireRefund {
  refundReference: string;
  reference: string;
  bankRef: string;
  amount: number;
  currency: string;
  status: 'succeeded' | 'declined';
  reason?: string;
  createdAt: string;
}

export interface WireRefundAnswer {
  approved: boolean;
  reason?: string;
  refund: WireRefund;
  payment: WirePayment;
}

/** Error body of a 4xx answer. */
export interface WireError {
  error: string;
  message: string;
  field?: string;
}

/** One line of the bank's ledger (`GET /ledger`). */
export interface LedgerOperation {
  seq: number;
  at: string;
  kind: 'authorize' | 'capture' | 'void' | 'refund' | 'challenge';
  reference: string;
  refundReference?: string;
  amount: number;
  currency: string;
  approved: boolean;
  reason?: string;
  /** Masked PAN or account number: never the full card number. */
  funds: string;
}

export interface WireAccount {
  accountNumber: string;
  balance: number;
  currency: string;
  blocked: boolean;
}
