import type {
  AttemptStatus, AttemptView, MerchantView, Mode, NextAction, OrderStatus, OrderView, RefundStatus,
} from '../sdk/payments';

export interface MerchantRow {
  id: string; name: string; mode: Mode; status: string; notify_url: string | null;
  webhook_secret_enc: string; form_key_enc: string; currencies: string; direct_card_input: boolean | number;
  bank_adapter: string; fee_bps: number; settings: string; test_expires_at: string | null;
  created_at: string; updated_at: string;
}

export interface OrderRow {
  id: string; merchant_id: string; mode: Mode; order_number: string; amount: number; currency: string;
  description: string; capture_mode: 'automatic' | 'manual'; status: OrderStatus; return_url: string | null;
  notify_url: string | null; customer: string; metadata: string; amount_authorized: number; amount_captured: number;
  amount_refunded: number; version: number; expires_at: string; created_at: string; updated_at: string;
}

export interface AttemptRow {
  id: string; order_id: string; merchant_id: string; method: string; status: AttemptStatus; amount: number;
  currency: string; amount_captured: number; amount_refunded: number; provider_ref: string | null;
  decline_reason: string | null; decline_message: string | null; next_action: string | null; method_data: string;
  source: string; pending_op: 'capture' | 'void' | null; pending_amount: number | null; check_count: number;
  next_check_at: string | null; action_expires_at: string | null; created_at: string; updated_at: string;
}

export interface RefundRow {
  id: string; order_id: string; attempt_id: string; merchant_id: string; amount: number; currency: string;
  status: RefundStatus; reason: string | null; provider_ref: string | null; failure_reason: string | null;
  check_count: number; next_check_at: string | null; created_at: string; updated_at: string;
}

export const parseJson = <T>(s: string | null | undefined, fallback: T): T => {
  if (s == null || s === '') return fallback;
  try {
    return JSON.parse(s) as T;
  } catch {
    return fallback;
  }
};

export function merchantView(r: MerchantRow): MerchantView {
  return {
    id: r.id, name: r.name, mode: r.mode, currencies: parseJson<string[]>(r.currencies, []),
    directCardInput: Boolean(r.direct_card_input), bankAdapter: r.bank_adapter,
  };
}

export function orderView(r: OrderRow): OrderView {
  return {
    id: r.id, merchantId: r.merchant_id, orderNumber: r.order_number, amount: Number(r.amount), currency: r.currency,
    description: r.description, captureMode: r.capture_mode, status: r.status, mode: r.mode, returnUrl: r.return_url,
    customer: parseJson(r.customer, {}), metadata: parseJson(r.metadata, {}), expiresAt: r.expires_at,
    amountAuthorized: Number(r.amount_authorized), amountCaptured: Number(r.amount_captured),
    amountRefunded: Number(r.amount_refunded), createdAt: r.created_at,
  };
}

export function attemptView(r: AttemptRow): AttemptView {
  return {
    id: r.id, orderId: r.order_id, merchantId: r.merchant_id, method: r.method, status: r.status,
    amount: Number(r.amount), currency: r.currency, amountCaptured: Number(r.amount_captured),
    amountRefunded: Number(r.amount_refunded), providerRef: r.provider_ref, declineReason: r.decline_reason,
    methodData: parseJson(r.method_data, {}), nextAction: parseJson<NextAction | null>(r.next_action, null),
    createdAt: r.created_at,
  };
}

/* Public JSON shapes (snake_case, as the HTTP API returns them). */

export function attemptJson(r: AttemptRow) {
  const md = parseJson<Record<string, unknown>>(r.method_data, {});
  return {
    id: r.id, object: 'payment', order_id: r.order_id, status: r.status, method: r.method,
    amount: Number(r.amount), currency: r.currency, amount_captured: Number(r.amount_captured),
    amount_refunded: Number(r.amount_refunded), decline_reason: r.decline_reason, decline_message: r.decline_message,
    next_action: parseJson<NextAction | null>(r.next_action, null), details: md, created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

export function refundJson(r: RefundRow) {
  return {
    id: r.id, object: 'refund', order_id: r.order_id, payment_id: r.attempt_id, amount: Number(r.amount),
    currency: r.currency, status: r.status, reason: r.reason, failure_reason: r.failure_reason,
    created_at: r.created_at, updated_at: r.updated_at,
  };
}

export function orderJson(r: OrderRow, baseUrl: string, attempts?: AttemptRow[], refunds?: RefundRow[]) {
  return {
    id: r.id, object: 'order', order_number: r.order_number, status: r.status, mode: r.mode,
    amount: Number(r.amount), currency: r.currency, description: r.description, capture: r.capture_mode,
    amount_authorized: Number(r.amount_authorized), amount_captured: Number(r.amount_captured),
    amount_refunded: Number(r.amount_refunded), return_url: r.return_url, notify_url: r.notify_url,
    customer: parseJson(r.customer, {}), metadata: parseJson(r.metadata, {}),
    pay_url: `${baseUrl}/pay/${r.id}`, expires_at: r.expires_at, version: r.version,
    created_at: r.created_at, updated_at: r.updated_at,
    ...(attempts ? { payments: attempts.map(attemptJson) } : {}),
    ...(refunds ? { refunds: refunds.map(refundJson) } : {}),
  };
}
