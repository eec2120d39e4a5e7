import type { Knex } from 'knex';
import type {
  AttemptView, MerchantView, MethodOutcome, OrderView, RequestInfo,
} from './payments';

/** Wall clock, injectable so tests can move time. */
export interface Clock {
  now(): Date;
}

/**
 * Encryption at rest with keys from configuration (never from the database).
 * Ciphertexts carry the key version so a key rotation can re-wrap them.
 */
export interface Keyring {
  /** AES-256-GCM; `aad` binds the ciphertext to its row/column. */
  encrypt(plaintext: string, aad?: string): string;
  decrypt(ciphertext: string, aad?: string): string;
  /** Keyed HMAC-SHA256 (hex) for fingerprints and lookups of secrets without decrypting. */
  fingerprint(purpose: string, value: string): string;
  /** Current key version, as stored with each ciphertext. */
  readonly version: number;
  /** Re-encrypts a ciphertext under the current key; returns it unchanged if already current. */
  rewrap(ciphertext: string, aad?: string): string;
}

export interface CreateOrderInput {
  order_number: string;
  amount: number;
  currency: string;
  description?: string;
  capture?: 'automatic' | 'manual';
  return_url?: string;
  notify_url?: string;
  customer?: { email?: string; phone?: string };
  metadata?: Record<string, unknown>;
  expires_in?: number;
}

/** The payments engine as plugins see it. Every method is one or more database transactions. */
export interface PaymentsService {
  getMerchant(merchantId: string): Promise<MerchantView | null>;
  getOrder(orderId: string): Promise<OrderView | null>;
  getAttempt(attemptId: string): Promise<AttemptView | null>;
  listAttempts(orderId: string): Promise<AttemptView[]>;
  /** Creates an order as POST /v1/orders does (validation included). */
  createOrder(merchantId: string, input: CreateOrderInput): Promise<OrderView>;
  findOrderByNumber(merchantId: string, orderNumber: string): Promise<OrderView | null>;
  /** Starts a payment attempt as POST /v1/orders/:id/payments does. */
  startAttempt(args: {
    merchantId: string;
    orderId: string;
    method: string;
    input: Record<string, unknown>;
    source: 'api' | 'page';
    request?: RequestInfo;
  }): Promise<AttemptView>;
  /**
   * Applies what a provider said about an attempt (a notification, a poll). Idempotent: a duplicate or stale
   * outcome changes nothing. Returns the attempt as it stands afterwards.
   */
  applyOutcome(attemptId: string, outcome: MethodOutcome, cause: string): Promise<AttemptView>;
  /** The buyer came back from a provider/3-D Secure page with these parameters. */
  completeAction(attemptId: string, params: Record<string, string>, request?: RequestInfo): Promise<AttemptView>;
  /** Polls the provider for an attempt now (what the resolver does on its schedule). */
  resolveAttempt(attemptId: string): Promise<AttemptView>;
  /** The methods this merchant can use now for an order in this currency (installed, enabled, configured). */
  availableMethods(merchantId: string, currency: string): Promise<import('./payments').PaymentMethod[]>;
  /** The demo merchant that `payhub start` created on an empty database, or null. */
  demoMerchantId(): Promise<string | null>;
  /** Decrypted per-merchant settings of a method, or null. */
  getMethodSettings(merchantId: string, method: string): Promise<Record<string, unknown> | null>;
  /** Records a security or audit event (no secrets in `data`). */
  audit(event: { merchantId?: string; actor: string; action: string; data?: Record<string, unknown> }): Promise<void>;
  /** Merchant actions, as POST /v1/orders/:id/capture|cancel|refunds do (return the public JSON shapes). */
  capture(merchantId: string, orderId: string, amount?: number): Promise<Record<string, unknown>>;
  cancel(merchantId: string, orderId: string): Promise<Record<string, unknown>>;
  refund(merchantId: string, orderId: string, body: { amount?: number; currency?: string; reason?: string }): Promise<Record<string, unknown>>;
  /**
   * Resolves an order held for manual risk review (a risk check answered `review`: the payment was authorized only).
   * approve: captures it when the order asked for automatic capture; reject: voids it (decline_reason risk_rejected).
   */
  resolveReview(merchantId: string, orderId: string, decision: 'approve' | 'reject', actor: string): Promise<Record<string, unknown>>;
  /**
   * Sends a webhook delivery again now (as POST /v1/webhook-deliveries/:id/retry). merchantId null: the operator
   * (any merchant's delivery, e.g. a dead letter).
   */
  retryWebhookDelivery(merchantId: string | null, deliveryId: string): Promise<{ id: string; status: string; attempts: number; last_status_code: number | null; last_error: string | null }>;
}

/**
 * Where a merchant's contract with its acquiring bank keeps the bank-side credentials (terminal, keys). Registered
 * by an onboarding plugin under TOKENS.BankContracts; the engine hands them to payment methods as
 * MethodContext.bankCredentials.
 */
export interface BankContractStore {
  credentials(merchantId: string, bankAdapterId: string): Promise<import('./payments').BankCredentials | null>;
}

/** A loaded plugin as the operator sees it. */
export interface PluginInfo {
  readonly name: string;
  readonly version: string;
  readonly kind: string;
  readonly core: string;
  readonly status: string;
  readonly origin: string;
  readonly description: string | null;
}

/** A leg of a ledger posting. Plugin accounts are named `<plugin>:…`. */
export interface LedgerLeg { account: string; debit?: number; credit?: number }

/**
 * The double-entry ledger for plugins (e.g. loyalty points as a ledger currency of their own). Every posting must
 * balance per currency; amounts are non-negative integers.
 */
export interface LedgerService {
  post(p: { kind: string; merchantId: string | null; currency: string; refId: string; legs: LedgerLeg[] }, trx?: import('knex').Knex.Transaction): Promise<string>;
  /** Credits minus debits of one account in one currency. */
  balance(account: string, currency: string, trx?: import('knex').Knex.Transaction): Promise<number>;
}

export type Db = Knex;

/** Facts known only once the hub runs (the listening address). */
export interface Runtime {
  /** Public base URL, e.g. http://localhost:8080 (no trailing slash). */
  baseUrl(): string;
}

/** A merchant as the operator sees it (no secrets). */
export interface MerchantRecord {
  readonly id: string;
  readonly name: string;
  readonly mode: import('./payments').Mode;
  readonly status: string;
  readonly currencies: readonly string[];
  readonly notifyUrl: string | null;
  readonly directCardInput: boolean;
  readonly bankAdapter: string;
  readonly feeBps: number;
  /** Test keys stop working after this (onboarding); null = no limit. */
  readonly testExpiresAt: string | null;
  readonly createdAt: string;
}

export interface NewMerchantInput {
  name: string;
  mode?: import('./payments').Mode;
  notifyUrl?: string | null;
  currencies?: string[];
  directCardInput?: boolean;
  bankAdapter?: string;
  feeBps?: number;
  testExpiresAt?: string | null;
}

export interface CreatedMerchantKeys {
  id: string;
  name: string;
  mode: import('./payments').Mode;
  test_secret_key: string;
  live_secret_key?: string;
  webhook_secret: string;
  form_key: string;
}

/** Merchant administration for operator-facing plugins (onboarding, dashboard). Every change is audited. */
export interface MerchantsService {
  create(input: NewMerchantInput, actor: string): Promise<CreatedMerchantKeys>;
  get(id: string): Promise<MerchantRecord | null>;
  list(opts?: { limit?: number }): Promise<MerchantRecord[]>;
  update(id: string, patch: Partial<Pick<MerchantRecord, 'name' | 'notifyUrl' | 'currencies' | 'bankAdapter' | 'directCardInput' | 'testExpiresAt' | 'status' | 'feeBps'>>, actor: string): Promise<MerchantRecord>;
  /** Switches test ↔ live; switching to live issues a live key (returned once). */
  switchMode(id: string, mode: import('./payments').Mode, actor: string): Promise<{ liveKey?: string }>;
  /** Revokes the merchant's keys of that mode and issues a new one (returned once). */
  rollKey(id: string, mode: import('./payments').Mode, actor: string): Promise<string>;
  listKeys(id: string): Promise<Array<{ id: string; mode: string; last4: string; createdAt: string; revokedAt: string | null }>>;
  rollWebhookSecret(id: string, actor: string): Promise<string>;
  webhookSecret(id: string): Promise<string>;
  /** HMAC key of the static-page snippet. */
  formKey(id: string): Promise<string>;
}

/**
 * A read-only panel a plugin adds to the dashboard (registered under the multi-token TOKENS.DashboardPanel).
 * Panels return structured data only: the dashboard renders it, escaped, in its own layout (no HTML from plugins).
 */
export interface DashboardPanel {
  /** Unique, [a-z0-9-] (1–64 characters); the page is /dashboard/panels/<id>. */
  readonly id: string;
  /** The panel's title by language (`en`, `ru`); `en` is the fallback. */
  readonly title: Readonly<Record<string, string>>;
  /** `merchant`: shown to a merchant's users, scoped to their merchant; `operator`: shown to the operator only. */
  readonly audience: 'merchant' | 'operator';
  load(q: PanelQuery): Promise<PanelData>;
}

export interface PanelQuery {
  /** The signed-in user's merchant (merchant panels; never taken from the URL); null for operator panels. */
  readonly merchantId: string | null;
  /** UI language (`en` or `ru`): labels and values should be in it. */
  readonly lang: string;
  /** The page's query parameters (strings, `lang` removed): filters; validate them (ValidationError → 422). */
  readonly query: Readonly<Record<string, string>>;
  /** At most this many rows. */
  readonly limit: number;
}

/** What a panel shows: summary figures, one table, a note. Values are plain text (never HTML). */
export interface PanelData {
  summary?: Array<{ label: string; value: string }>;
  columns: Array<{ key: string; label: string }>;
  rows: Array<Record<string, string | number | null>>;
  /** Filters the dashboard offers as a form over `query` (GET), e.g. `decision` with allow/review/deny. */
  filters?: Array<{ key: string; label: string; options: Array<{ value: string; label: string }> }>;
  note?: string;
}

/**
 * A small form a plugin adds to the hosted payment page (registered under the multi-token TOKENS.CheckoutExtension),
 * e.g. a loyalty card number. The page plugin renders it, escaped, in its own layout with its own CSRF token and rate
 * limit, and only while the order is payable (`created`). Structured data only: no HTML, no script from plugins.
 */
export interface CheckoutExtension {
  /** Unique, [a-z0-9-] (1–64 characters); the form posts to /pay/<order_id>/extensions/<id>. */
  readonly id: string;
  /** The section's title by language (`en`, `ru`, `de`); `en` is the fallback. */
  readonly title: Readonly<Record<string, string>>;
  /** The form's inputs (text inputs), in order. */
  readonly fields: ReadonlyArray<CheckoutExtensionField>;
  /** Whether the section is shown for this order (e.g. the merchant runs the program). Keep it cheap; never throw. */
  isOffered(q: CheckoutExtensionQuery): Promise<boolean>;
  /**
   * The buyer submitted the form. `values` holds exactly the declared fields (strings, trimmed, cut to maxLength).
   * Messages are plain text by language and shown to the buyer: never echo secrets or full numbers.
   */
  apply(q: CheckoutExtensionQuery & { readonly values: Readonly<Record<string, string>> }): Promise<CheckoutExtensionResult>;
}

export interface CheckoutExtensionField {
  /** [a-z0-9_] (1–40 characters): the form field's name. */
  readonly name: string;
  /** The label by language; `en` is the fallback. */
  readonly label: Readonly<Record<string, string>>;
  readonly inputmode?: 'numeric' | 'text';
  readonly autocomplete?: string;
  /** At most this many characters (default 100, at most 200). */
  readonly maxLength?: number;
}

export interface CheckoutExtensionQuery {
  readonly merchantId: string;
  readonly orderId: string;
}

/** ok: the message is shown above the form; not ok: next to `field` (one of the declared fields). */
export type CheckoutExtensionResult =
  | { ok: true; message: Readonly<Record<string, string>> }
  | { ok: false; field: string; message: Readonly<Record<string, string>> };
