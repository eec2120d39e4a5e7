import { z } from 'zod';
import {
  ValidationError, toMajorString, fromMajorString, CURRENCIES,
  type Clock, type MerchantView, type MethodContext, type MethodOutcome, type PaymentMethod, type PrepareContext,
  type PreparedInput, type Runtime,
} from '@payhub/core';

export const METHOD_ID = 'yoomoney';

/** Per-merchant settings, from the YooMoney wallet's "HTTP notifications" page. */
export const settingsSchema = z.object({
  /** Wallet number that receives the money (receiver). */
  receiver: z.string().regex(/^[0-9]{11,20}$/, 'a YooMoney wallet number is 11 to 20 digits'),
  /** The notification secret shown in the wallet's HTTP-notification settings. */
  notificationSecret: z.string().min(1).max(200),
  /** Default paymentType: AC = bank card, PC = YooMoney wallet. */
  paymentType: z.enum(['AC', 'PC']).default('AC'),
  /**
   * Largest fee YooMoney may keep, in basis points (300 = 3 %): the signed `amount` (after the fee) must be at least
   * the order amount less this share (providers.md §3.1: the coefficients change; unconfirmed).
   */
  maxFeeBasisPoints: z.number().int().min(0).max(5000).default(300),
});
export type YooMoneySettings = z.infer<typeof settingsSchema>;

export function parseSettings(raw: Record<string, unknown> | null): YooMoneySettings | null {
  if (!raw) return null;
  const r = settingsSchema.safeParse(raw);
  return r.success ? r.data : null;
}

export interface YooMoneyMethodOptions {
  quickpayUrl: () => string;
  /** `quickpay-form` value: 'button' in current docs, 'shop' in old ones. */
  quickpayForm: string;
  actionTimeoutMinutes: number;
  notificationTimeoutHours: number;
}

interface Payload { paymentType: 'AC' | 'PC' }

export class YooMoneyMethod implements PaymentMethod<Payload> {
  readonly id = METHOD_ID;
  readonly displayName = { en: 'YooMoney', ru: 'ЮMoney' };
  readonly currencies = ['RUB'] as const;
  readonly supports = { capture: false, partialCapture: false, cancel: false, refund: false, partialRefund: false };
  readonly settingsSchema = settingsSchema;
  readonly secretSettings = ['notificationSecret'] as const;

  constructor(private readonly runtime: Runtime, private readonly clock: Clock, private readonly options: YooMoneyMethodOptions) {}

  isAvailable(_m: MerchantView, settings: Record<string, unknown> | null): boolean {
    return parseSettings(settings) !== null;
  }

  async prepare(ctx: PrepareContext, input: Record<string, unknown>): Promise<PreparedInput<Payload>> {
    const s = parseSettings(ctx.settings);
    if (!s) throw new ValidationError([{ field: 'method', message: 'YooMoney is not configured for this merchant' }]);
    if (ctx.order.currency !== 'RUB') throw new ValidationError([{ field: 'currency', message: 'YooMoney takes RUB only' }]);
    const pt = input.paymentType ?? input.payment_type ?? s.paymentType;
    if (pt !== 'AC' && pt !== 'PC') throw new ValidationError([{ field: 'payment_type', message: 'must be AC (card) or PC (wallet)' }]);
    return { methodData: { receiver: s.receiver, paymentType: pt }, payload: { paymentType: pt } };
  }

  async start(ctx: MethodContext, payload: Payload): Promise<MethodOutcome> {
    const s = parseSettings(ctx.settings);
    if (!s) return { kind: 'not_sent', reason: 'not_configured' };
    const description = (ctx.order.description || `Order ${ctx.order.orderNumber}`).slice(0, 150);
    const fields: Record<string, string> = {
      receiver: s.receiver,
      'quickpay-form': this.options.quickpayForm,
      targets: description,
      paymentType: payload?.paymentType ?? s.paymentType,
      sum: toMajorString(ctx.attempt.amount, ctx.attempt.currency),
      label: ctx.attempt.id,
      successURL: `${this.runtime.baseUrl()}/return/${encodeURIComponent(ctx.attempt.id)}`,
    };
    return {
      kind: 'requires_action',
      nextAction: { type: 'form', url: this.options.quickpayUrl(), method: 'POST', fields },
      actionExpiresAt: new Date(this.clock.now().getTime() + this.options.actionTimeoutMinutes * 60_000),
    };
  }

  /** The buyer came back through successURL (unauthenticated): wait for the notification. */
  async completeAction(): Promise<MethodOutcome> {
    return { kind: 'pending' };
  }

  /**
   * No status API in this protocol. Quickpay has no fail URL, so an abandoned or declined form ends with the engine's
   * action timeout; a payment the buyer returned from but never notified is canceled after notificationTimeoutHours.
   */
  async status(ctx: MethodContext): Promise<MethodOutcome> {
    if (ctx.attempt.status === 'requires_action' && ctx.attempt.nextAction) return { kind: 'requires_action', nextAction: ctx.attempt.nextAction };
    const age = this.clock.now().getTime() - Date.parse(ctx.attempt.createdAt);
    if (age > this.options.notificationTimeoutHours * 3_600_000) return { kind: 'canceled', reason: 'no_notification' };
    return { kind: 'pending' };
  }
}

/** Exact parse of a received decimal in the attempt's currency; null when it is not a plain decimal. */
export function minor(value: string | undefined, currency: string): number | null {
  if (value === undefined) return null;
  try {
    return fromMajorString(value, currency);
  } catch {
    return null;
  }
}

export function numericCurrency(code: string): string | undefined {
  return CURRENCIES[code]?.numeric;
}
