import { z } from 'zod';
import {
  ValidationError, toMajorString, fromMajorString,
  type MerchantView, type MethodContext, type MethodOutcome, type PaymentMethod, type PrepareContext,
  type PreparedInput, type Runtime, type Clock,
} from '@payhub/core';
import { PURSE_RE, paymentFormSign, purseCurrency } from './signature';
import type { PaymentNumbers } from './store';

export const METHOD_ID = 'webmoney';

/** Per-merchant settings, entered as in the WebMoney cabinet (Merchant settings of the purse). */
export const settingsSchema = z.object({
  /** Payee purse, letter + 12 digits; its letter gives the currency (Z=USD, E=EUR, ...). */
  purse: z.string().regex(PURSE_RE, 'a purse is one capital letter and 12 digits'),
  /** Secret Key of the purse (≤50 characters, case-sensitive). */
  secretKey: z.string().min(1).max(50),
  /** Hash method of LMI_HASH chosen in the cabinet; LMI_HASH2 (SHA-256) is checked whenever sent. */
  hashMethod: z.enum(['sha256', 'md5', 'sign']).default('sha256'),
  /** X20 secret key: when set, the request form is signed (LMI_PAYMENTFORM_SIGN). */
  formSignKey: z.string().min(1).max(50).optional(),
  /** Whether the form signature string ends with ";" (providers.md §7.2: unconfirmed). */
  formSignTrailingSemicolon: z.boolean().default(true),
  /** LMI_SIM_MODE sent for test-mode orders: 0 succeed, 1 fail, 2 mostly succeed. */
  simMode: z.enum(['0', '1', '2']).default('0'),
  /** Currency of the purse when its letter is not in the usual table. */
  currency: z.string().regex(/^[A-Z]{3}$/).optional(),
});
export type WebMoneySettings = z.infer<typeof settingsSchema>;

export interface WebMoneyMethodOptions {
  /** Where the buyer's form is posted (WebMoney's payment_utf.asp or the emulator's). */
  formUrl: () => string;
  /** LMI_SUCCESS_METHOD / LMI_FAIL_METHOD: '0' GET, '1' POST, '2' link. */
  returnMethod: '0' | '1' | '2';
  /** How long the buyer has to pay on WebMoney's page before the attempt is canceled. */
  actionTimeoutMinutes: number;
  /** How long a payment the buyer says is done may wait for its notification before it is canceled. */
  notificationTimeoutHours: number;
}

/** Settings as stored may lack defaults; parse them again (throws when they are unusable). */
export function parseSettings(raw: Record<string, unknown> | null): WebMoneySettings | null {
  if (!raw) return null;
  const r = settingsSchema.safeParse(raw);
  return r.success ? r.data : null;
}

export function returnUrl(runtime: Runtime, attemptId: string, result?: 'fail'): string {
  return `${runtime.baseUrl()}/return/${encodeURIComponent(attemptId)}${result ? `?result=${result}` : ''}`;
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

export class WebMoneyMethod implements PaymentMethod<Record<string, never>> {
  readonly id = METHOD_ID;
  readonly displayName = { en: 'WebMoney', ru: 'WebMoney' };
  readonly supports = { capture: false, partialCapture: false, cancel: false, refund: false, partialRefund: false };
  readonly settingsSchema = settingsSchema;
  readonly secretSettings = ['secretKey', 'formSignKey'] as const;

  constructor(
    private readonly runtime: Runtime,
    private readonly clock: Clock,
    private readonly numbers: PaymentNumbers,
    private readonly options: WebMoneyMethodOptions,
  ) {}

  isAvailable(_merchant: MerchantView, settings: Record<string, unknown> | null): boolean {
    return parseSettings(settings) !== null;
  }

  async prepare(ctx: PrepareContext): Promise<PreparedInput<Record<string, never>>> {
    const s = parseSettings(ctx.settings);
    if (!s) throw new ValidationError([{ field: 'method', message: 'WebMoney is not configured for this merchant' }]);
    const cur = purseCurrency(s.purse, s.currency);
    if (cur !== ctx.order.currency) {
      throw new ValidationError([{ field: 'currency', message: `the WebMoney purse takes ${cur ?? 'an unknown currency'}, the order is in ${ctx.order.currency}` }]);
    }
    return { methodData: { purse: s.purse }, payload: {} };
  }

  async start(ctx: MethodContext): Promise<MethodOutcome> {
    const s = parseSettings(ctx.settings);
    if (!s) return { kind: 'not_sent', reason: 'not_configured' };
    const paymentNo = String(await this.numbers.forAttempt(ctx.attempt.id));
    const amount = toMajorString(ctx.attempt.amount, ctx.attempt.currency);
    const description = ctx.order.description || `Order ${ctx.order.orderNumber}`;
    const fields: Record<string, string> = {
      LMI_PAYEE_PURSE: s.purse,
      LMI_PAYMENT_AMOUNT: amount,
      LMI_PAYMENT_NO: paymentNo,
      LMI_PAYMENT_DESC_BASE64: b64(description.slice(0, 255)),
      LMI_RESULT_URL: `${this.runtime.baseUrl()}/callbacks/webmoney`,
      LMI_SUCCESS_URL: returnUrl(this.runtime, ctx.attempt.id),
      LMI_SUCCESS_METHOD: this.options.returnMethod,
      LMI_FAIL_URL: returnUrl(this.runtime, ctx.attempt.id, 'fail'),
      LMI_FAIL_METHOD: this.options.returnMethod,
      // Echoed back unsigned: a cross-check only, never the key of a lookup.
      PAYHUB_ATTEMPT: ctx.attempt.id,
    };
    if (ctx.order.mode === 'test') fields.LMI_SIM_MODE = s.simMode;
    if (ctx.order.customer.email) fields.LMI_PAYMER_EMAIL = ctx.order.customer.email;
    if (s.formSignKey) {
      fields.LMI_PAYMENTFORM_SIGN = paymentFormSign({ purse: s.purse, amount, paymentNo }, s.formSignKey, s.formSignTrailingSemicolon);
    }
    return {
      kind: 'requires_action',
      nextAction: { type: 'form', url: this.options.formUrl(), method: 'POST', fields },
      methodData: { purse: s.purse, paymentNo },
      actionExpiresAt: new Date(this.clock.now().getTime() + this.options.actionTimeoutMinutes * 60_000),
    };
  }

  /**
   * The buyer came back. Redirects are not authenticated: a success return only waits for the notification;
   * the fail URL (WebMoney sends the buyer there when the payment did not happen) declines the attempt.
   */
  async completeAction(ctx: MethodContext, params: Record<string, string>): Promise<MethodOutcome> {
    if (params.result === 'fail') return { kind: 'declined', reason: 'payment_failed', message: 'WebMoney payment was not completed' };
    return { kind: 'pending' };
  }

  /**
   * This protocol subset has no status API: the Result URL notification is the only authoritative answer.
   * An unpaid form expires with the engine's action timeout; a payment reported done by the buyer's return but never
   * notified is canceled after notificationTimeoutHours (a later notification is then audited as a late success).
   */
  async status(ctx: MethodContext): Promise<MethodOutcome> {
    if (ctx.attempt.status === 'requires_action' && ctx.attempt.nextAction) {
      return { kind: 'requires_action', nextAction: ctx.attempt.nextAction };
    }
    const age = this.clock.now().getTime() - Date.parse(ctx.attempt.createdAt);
    if (age > this.options.notificationTimeoutHours * 3_600_000) return { kind: 'canceled', reason: 'no_notification' };
    return { kind: 'pending' };
  }
}

/** Exact amount check: the received decimal string, parsed in the purse currency, equals the attempt's minor units. */
export function amountMatches(received: string, expectedMinor: number, currency: string): boolean {
  try {
    return fromMajorString(received, currency) === expectedMinor;
  } catch {
    return false;
  }
}
