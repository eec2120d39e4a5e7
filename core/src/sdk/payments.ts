import type { ZodType } from 'zod';
import type { Logger } from 'pino';
import type { Money } from './money';

/** A merchant's mode; test keys and live keys never cross. */
export type Mode = 'test' | 'live';

export const ORDER_STATUSES = [
  'created', 'processing', 'requires_action', 'authorized', 'paid',
  'partially_refunded', 'refunded', 'canceled', 'expired',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const ATTEMPT_STATUSES = [
  'pending', 'requires_action', 'authorized', 'captured', 'declined', 'failed', 'unknown', 'canceled',
] as const;
export type AttemptStatus = (typeof ATTEMPT_STATUSES)[number];

export const REFUND_STATUSES = ['pending', 'succeeded', 'failed', 'unknown'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/** What the buyer must do next: nothing, follow a redirect, or post a form to a provider. */
export type NextAction =
  | { type: 'redirect'; url: string }
  | { type: 'form'; url: string; method: 'POST' | 'GET'; fields: Record<string, string> };

/** Read-only merchant facts a plugin may see. Secrets never appear here. */
export interface MerchantView {
  readonly id: string;
  readonly name: string;
  readonly mode: Mode;
  readonly currencies: readonly string[];
  /** Merchant may post raw card data server-to-server (test mode always may). */
  readonly directCardInput: boolean;
  /** Bank adapter that services this merchant's card and account payments. */
  readonly bankAdapter: string;
}

export interface OrderView {
  readonly id: string;
  readonly merchantId: string;
  readonly orderNumber: string;
  readonly amount: number;
  readonly currency: string;
  readonly description: string;
  readonly captureMode: 'automatic' | 'manual';
  readonly status: OrderStatus;
  readonly mode: Mode;
  readonly returnUrl: string | null;
  readonly customer: { email?: string; phone?: string };
  readonly metadata: Record<string, unknown>;
  readonly expiresAt: string;
  readonly amountAuthorized: number;
  readonly amountCaptured: number;
  readonly amountRefunded: number;
  readonly createdAt: string;
}

export interface AttemptView {
  readonly id: string;
  readonly orderId: string;
  readonly merchantId: string;
  readonly method: string;
  readonly status: AttemptStatus;
  readonly amount: number;
  readonly currency: string;
  readonly amountCaptured: number;
  readonly amountRefunded: number;
  readonly providerRef: string | null;
  readonly declineReason: string | null;
  /** Non-sensitive facts kept with the attempt (masked card, brand, fingerprint, wallet id). */
  readonly methodData: Record<string, unknown>;
  readonly nextAction: NextAction | null;
  readonly createdAt: string;
}

/**
 * What a payment method (or the bank behind it) answered. The classes follow Kill Bill's plugin results:
 * only `processed` and `declined` are definite; `not_sent` is safe to retry; `unknown` may have happened.
 */
export type MethodOutcome =
  | { kind: 'processed'; status: 'authorized' | 'captured'; providerRef?: string; methodData?: Record<string, unknown> }
  | { kind: 'requires_action'; nextAction: NextAction; providerRef?: string; methodData?: Record<string, unknown>; actionExpiresAt?: Date }
  | { kind: 'pending'; providerRef?: string; nextAction?: NextAction; methodData?: Record<string, unknown> }
  | { kind: 'declined'; reason: string; message?: string; providerRef?: string; methodData?: Record<string, unknown> }
  | { kind: 'canceled'; reason?: string }
  | { kind: 'not_sent'; reason: string }
  | { kind: 'unknown'; reason?: string; providerRef?: string };

/** Outcome of a refund at the provider. */
export type RefundOutcome =
  | { kind: 'processed'; providerRef?: string }
  | { kind: 'pending'; providerRef?: string }
  | { kind: 'declined'; reason: string }
  | { kind: 'not_sent'; reason: string }
  | { kind: 'unknown'; reason?: string };

/** Request facts passed to a method; never includes raw headers. */
export interface RequestInfo {
  readonly ip?: string;
  readonly userAgent?: string;
  /** Public base URL of the hub, e.g. http://localhost:8080 */
  readonly baseUrl: string;
  readonly lang?: string;
  /** Buyer's country (ISO 3166-1 alpha-2) when a trusted proxy tells it (config http.countryHeader). */
  readonly country?: string;
}

export interface MethodContext {
  readonly merchant: MerchantView;
  readonly order: OrderView;
  readonly attempt: AttemptView;
  /** Decrypted per-merchant settings of this method (credentials). Never log them. */
  readonly settings: Record<string, unknown>;
  /** Deterministic key for the provider, derived from the stored attempt id. */
  readonly idempotencyKey: string;
  /** The merchant's contract credentials with its bank adapter, when an onboarding plugin keeps them. */
  readonly bankCredentials?: BankCredentials | null;
  readonly request?: RequestInfo;
  readonly logger: Logger;
}

export interface PrepareContext {
  readonly merchant: MerchantView;
  readonly order: OrderView;
  readonly settings: Record<string, unknown>;
  readonly request?: RequestInfo;
}

/** Result of validating a method's input before any attempt is stored. */
export interface PreparedInput<P = unknown> {
  /** Kept with the attempt: must hold nothing secret (masked PAN at most). */
  readonly methodData: Record<string, unknown>;
  /** Held in memory only until the provider answers (may hold a PAN and CVC). */
  readonly payload: P;
}

/**
 * Extension point: a way to pay (card, personal account, a wallet). Registered by plugins under PAYMENT_METHOD.
 * The engine persists every state; a method is stateless apart from its own plugin tables.
 */
export interface PaymentMethod<P = unknown> {
  readonly id: string;
  readonly displayName: Readonly<Record<string, string>>;
  /** Currencies it can take; undefined means any the merchant accepts. */
  readonly currencies?: readonly string[];
  readonly supports: {
    readonly capture?: boolean;
    readonly partialCapture?: boolean;
    readonly cancel?: boolean;
    readonly refund?: boolean;
    readonly partialRefund?: boolean;
  };
  /** Schema of the per-merchant settings (credentials), validated on PUT /v1/payment-methods/:method/settings. */
  readonly settingsSchema?: ZodType;
  /** Names of settings fields that are secret: shown masked when read back. */
  readonly secretSettings?: readonly string[];
  /**
   * Settings for the demo merchant that `payhub start` creates on an empty database (e.g. the credentials of the
   * plugin's own emulator), or null. Never real credentials.
   */
  demoSettings?(): Record<string, unknown> | null;
  /** Whether this merchant can use the method now (settings present, mode allowed). */
  isAvailable?(merchant: MerchantView, settings: Record<string, unknown> | null): boolean;
  /** Validate the request body (minus `method`); throw ValidationError with fields. No I/O to providers. */
  prepare(ctx: PrepareContext, input: Record<string, unknown>, source: 'api' | 'page'): Promise<PreparedInput<P>>;
  /**
   * True when `prepare` writes nothing (reads and checks only), so running it twice for one Idempotency-Key is
   * harmless: the key is then claimed in the transaction that starts the payment, one commit fewer. Leave unset
   * when `prepare` records anything (a nonce, a reservation): the key is claimed in its own commit before it runs.
   */
  readonly prepareIsReadOnly?: boolean;
  /** Send the attempt to the provider. */
  start(ctx: MethodContext, payload: P): Promise<MethodOutcome>;
  /** Finish a buyer action (3-D Secure return, provider return) with the parameters the buyer came back with. */
  completeAction?(ctx: MethodContext, params: Record<string, string>): Promise<MethodOutcome>;
  capture?(ctx: MethodContext, amount: number): Promise<MethodOutcome>;
  cancel?(ctx: MethodContext): Promise<MethodOutcome>;
  refund?(ctx: MethodContext, refund: { id: string; amount: number }): Promise<RefundOutcome>;
  /** Ask the provider where the attempt stands (outcome resolver). */
  status?(ctx: MethodContext): Promise<MethodOutcome>;
  /** Ask the provider where a refund stands. */
  refundStatus?(ctx: MethodContext, refund: { id: string; amount: number }): Promise<RefundOutcome>;
}

/** Card or account data handed to a bank adapter; lives in memory only. */
export type FundingSource =
  | { type: 'card'; number: string; expMonth: number; expYear: number; cvc?: string; holder?: string }
  | { type: 'card_token'; token: string; number: string; expMonth: number; expYear: number; cvc?: string; holder?: string }
  | { type: 'account'; accountNumber: string };

export interface BinInfo {
  readonly brand?: string;
  readonly productType: 'debit' | 'credit' | 'prepaid' | 'payroll' | 'unknown';
  readonly country?: string;
  readonly issuer?: string;
}

/** Answer of a bank adapter call (Kill Bill outcome classes). */
export type BankResult =
  | {
      outcome: 'processed';
      state: 'authorized' | 'captured' | 'voided' | 'refunded';
      bankRef?: string;
      authCode?: string;
      amountAuthorized?: number;
      amountCaptured?: number;
      amountRefunded?: number;
    }
  | { outcome: 'pending'; challenge?: { url: string; expiresAt?: string }; bankRef?: string }
  | { outcome: 'declined'; reason: string; message?: string; bankRef?: string }
  | { outcome: 'not_sent'; reason: string }
  | { outcome: 'unknown'; reason: string };

export interface BankCredentials {
  readonly merchantId?: string;
  readonly terminalId?: string;
  readonly [key: string]: unknown;
}

export interface AuthorizeRequest {
  /** Our attempt id: the bank's idempotency key for this payment. */
  readonly reference: string;
  readonly amount: Money;
  /** true: authorize and capture at once (one-stage). */
  readonly capture: boolean;
  readonly source: FundingSource;
  readonly description?: string;
  /** Where the bank sends the buyer back after a 3-D Secure challenge. */
  readonly returnUrl?: string;
  readonly credentials?: BankCredentials;
}

/** Extension point: an acquiring bank. Registered by plugins under BANK_ADAPTER. */
export interface BankAdapter {
  readonly id: string;
  readonly displayName: string;
  /** What a merchant must submit to sign a contract with this bank (onboarding). */
  readonly contract?: {
    readonly fields: ReadonlyArray<{ name: string; label: string; required: boolean; secret?: boolean }>;
    readonly documents: readonly string[];
  };
  binLookup(bin: string): Promise<BinInfo | null>;
  authorize(req: AuthorizeRequest): Promise<BankResult>;
  /** Finish a 3-D Secure challenge with what the buyer brought back. */
  completeChallenge?(req: { reference: string; params: Record<string, string>; credentials?: BankCredentials }): Promise<BankResult>;
  capture(req: { reference: string; amount: Money; credentials?: BankCredentials }): Promise<BankResult>;
  void(req: { reference: string; credentials?: BankCredentials }): Promise<BankResult>;
  refund(req: { reference: string; refundReference: string; amount: Money; credentials?: BankCredentials }): Promise<BankResult>;
  /** Where a payment (or, with refundReference, a refund) stands at the bank. `not_sent` means the bank never saw it. */
  status(req: { reference: string; refundReference?: string; credentials?: BankCredentials }): Promise<BankResult>;
  checkConnection?(credentials: BankCredentials): Promise<{ ok: boolean; message?: string }>;
}

export interface RiskContext {
  readonly merchant: MerchantView;
  readonly order: OrderView;
  readonly attempt: AttemptView;
  readonly method: string;
  readonly methodData: Record<string, unknown>;
  readonly request?: RequestInfo;
}

export interface RiskDecision {
  readonly decision: 'allow' | 'review' | 'deny';
  readonly rules?: ReadonlyArray<{ rule: string; value?: unknown; threshold?: unknown }>;
  readonly reason?: string;
}

/** Extension point: a check called before an attempt is sent to the provider. */
export interface RiskCheck {
  readonly id: string;
  check(ctx: RiskContext): Promise<RiskDecision>;
}
