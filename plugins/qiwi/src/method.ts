import { z } from 'zod';
import {
  ValidationError, toMajorString, fromMajorString,
  type Clock, type MerchantView, type MethodContext, type MethodOutcome, type PaymentMethod, type PrepareContext,
  type PreparedInput, type RefundOutcome, type Runtime,
} from '@payhub/core';
import { QiwiClient, type ApiResult } from './client';

export const METHOD_ID = 'qiwi';

/** Per-merchant settings from QIWI's p2p.qiwi.com / Kassa cabinet ("API keys"). */
export const settingsSchema = z.object({
  /** Secret key of the key pair (Bearer token of the API and HMAC key of notifications). */
  secretKey: z.string().min(16).max(2000),
  /** siteId of the shop: every notification and bill must carry it. */
  siteId: z.string().min(1).max(100),
  /** customFields.paySourcesFilter, e.g. "qw,card". */
  paySourcesFilter: z.string().regex(/^[a-z]+(,[a-z]+)*$/).optional(),
  /** customFields.themeCode of a personalised payment form. */
  themeCode: z.string().max(100).optional(),
});
export type QiwiSettings = z.infer<typeof settingsSchema>;

export function parseSettings(raw: Record<string, unknown> | null): QiwiSettings | null {
  if (!raw) return null;
  const r = settingsSchema.safeParse(raw);
  return r.success ? r.data : null;
}

export interface QiwiMethodOptions {
  apiBase: () => string;
  /** Bill lifetime in minutes (capped by the order's expiry and QIWI's 45 days). */
  billLifetimeMinutes: number;
  timeoutMs: number;
}

const MAX_LIFETIME_MS = 45 * 24 * 3_600_000;

/** ISO-8601 with an explicit offset, second precision, as QIWI documents it. */
function isoOffset(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

/** Exact amount of a bill in minor units, or null when it is not a plain decimal in the currency. */
export function billMinor(value: unknown, currency: string): number | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  try {
    return fromMajorString(String(value), currency);
  } catch {
    return null;
  }
}

export class QiwiMethod implements PaymentMethod<Record<string, never>> {
  readonly id = METHOD_ID;
  readonly displayName = { en: 'QIWI', ru: 'QIWI' };
  readonly currencies = ['RUB', 'KZT'] as const;
  readonly supports = { capture: false, partialCapture: false, cancel: true, refund: true, partialRefund: true };
  readonly settingsSchema = settingsSchema;
  readonly secretSettings = ['secretKey'] as const;

  constructor(private readonly runtime: Runtime, private readonly clock: Clock, private readonly options: QiwiMethodOptions) {}

  isAvailable(_m: MerchantView, settings: Record<string, unknown> | null): boolean {
    return parseSettings(settings) !== null;
  }

  private client(s: QiwiSettings): QiwiClient {
    return new QiwiClient(this.options.apiBase(), s.secretKey, this.options.timeoutMs);
  }

  async prepare(ctx: PrepareContext): Promise<PreparedInput<Record<string, never>>> {
    const s = parseSettings(ctx.settings);
    if (!s) throw new ValidationError([{ field: 'method', message: 'QIWI is not configured for this merchant' }]);
    if (!this.currencies.includes(ctx.order.currency as 'RUB')) throw new ValidationError([{ field: 'currency', message: 'QIWI bills take RUB or KZT' }]);
    return { methodData: { siteId: s.siteId }, payload: {} };
  }

  /**
   * Maps a bill answered by QIWI to an outcome, after checking it is the bill we issued
   * (billId, siteId, amount, currency). A mismatch is `unknown`: nothing is concluded from it.
   */
  private fromBill(ctx: MethodContext, s: QiwiSettings, body: Record<string, unknown>): MethodOutcome {
    const amount = body.amount as { value?: unknown; currency?: unknown } | undefined;
    const status = (body.status as { value?: unknown } | undefined)?.value;
    if (body.billId !== ctx.attempt.id || body.siteId !== s.siteId || amount?.currency !== ctx.attempt.currency
      || billMinor(amount?.value, ctx.attempt.currency) !== ctx.attempt.amount) {
      ctx.logger.error({ billId: body.billId, siteId: body.siteId }, 'qiwi answered a bill that does not match the attempt');
      return { kind: 'unknown', reason: 'bill_mismatch' };
    }
    switch (status) {
      case 'PAID': return { kind: 'processed', status: 'captured', providerRef: ctx.attempt.id };
      case 'REJECTED': return { kind: 'declined', reason: 'rejected', message: 'The bill was rejected', providerRef: ctx.attempt.id };
      case 'EXPIRED': return { kind: 'declined', reason: 'expired', message: 'The bill expired unpaid', providerRef: ctx.attempt.id };
      case 'WAITING': {
        const na = ctx.attempt.nextAction;
        if (typeof body.payUrl === 'string') return { kind: 'requires_action', nextAction: { type: 'redirect', url: this.payUrl(ctx, body.payUrl) }, providerRef: ctx.attempt.id };
        return na ? { kind: 'requires_action', nextAction: na } : { kind: 'pending', providerRef: ctx.attempt.id };
      }
      default: return { kind: 'unknown', reason: `status_${String(status)}` };
    }
  }

  private payUrl(ctx: MethodContext, payUrl: string): string {
    const u = new URL(payUrl);
    u.searchParams.set('successUrl', `${this.runtime.baseUrl()}/return/${encodeURIComponent(ctx.attempt.id)}`);
    return u.toString();
  }

  private failure(r: Exclude<ApiResult, { kind: 'ok' }>, creating: boolean): MethodOutcome {
    if (r.kind === 'network') return { kind: 'unknown', reason: r.error };
    if (r.status >= 500) return { kind: 'unknown', reason: r.errorCode ?? `http_${r.status}` };
    if (creating && (r.status === 400 || r.status === 401 || r.status === 403)) return { kind: 'not_sent', reason: r.errorCode ?? `http_${r.status}` };
    if (r.status === 404 && r.errorCode === 'api.invoice.not.found') return { kind: 'not_sent', reason: 'bill_not_found' };
    return { kind: 'unknown', reason: r.errorCode ?? `http_${r.status}` };
  }

  /** PUT the bill (billId = attempt id, so a retry re-creates nothing) and send the buyer to payUrl. */
  async start(ctx: MethodContext): Promise<MethodOutcome> {
    const s = parseSettings(ctx.settings);
    if (!s) return { kind: 'not_sent', reason: 'not_configured' };
    const now = this.clock.now().getTime();
    const expires = new Date(Math.min(Date.parse(ctx.order.expiresAt), now + this.options.billLifetimeMinutes * 60_000, now + MAX_LIFETIME_MS));
    const customer: Record<string, string> = {};
    if (ctx.order.customer.email) customer.email = ctx.order.customer.email;
    if (ctx.order.customer.phone) customer.phone = ctx.order.customer.phone.replace(/\D/g, '');
    const customFields: Record<string, string> = {};
    if (s.paySourcesFilter) customFields.paySourcesFilter = s.paySourcesFilter;
    if (s.themeCode) customFields.themeCode = s.themeCode;
    const body = {
      amount: { currency: ctx.attempt.currency, value: toMajorString(ctx.attempt.amount, ctx.attempt.currency) },
      expirationDateTime: isoOffset(expires),
      comment: (ctx.order.description || `Order ${ctx.order.orderNumber}`).slice(0, 255),
      ...(Object.keys(customer).length ? { customer } : {}),
      ...(Object.keys(customFields).length ? { customFields } : {}),
    };
    const r = await this.client(s).putBill(ctx.attempt.id, body);
    if (r.kind !== 'ok') return this.failure(r, true);
    const out = this.fromBill(ctx, s, r.body);
    if (out.kind === 'requires_action') return { ...out, actionExpiresAt: expires };
    return out;
  }

  /** The buyer came back from the payment form: ask QIWI. */
  async completeAction(ctx: MethodContext): Promise<MethodOutcome> {
    return this.status(ctx);
  }

  async status(ctx: MethodContext): Promise<MethodOutcome> {
    const s = parseSettings(ctx.settings);
    if (!s) return { kind: 'unknown', reason: 'not_configured' };
    const r = await this.client(s).getBill(ctx.attempt.id);
    if (r.kind !== 'ok') return this.failure(r, false);
    return this.fromBill(ctx, s, r.body);
  }

  /** Rejects the unpaid bill. A bill found paid meanwhile is reported as captured. */
  async cancel(ctx: MethodContext): Promise<MethodOutcome> {
    const s = parseSettings(ctx.settings);
    if (!s) return { kind: 'unknown', reason: 'not_configured' };
    const r = await this.client(s).reject(ctx.attempt.id);
    if (r.kind !== 'ok') return this.failure(r, false);
    const out = this.fromBill(ctx, s, r.body);
    if (out.kind === 'declined' && out.reason === 'rejected') return { kind: 'canceled', reason: 'rejected' };
    return out;
  }

  private refundOutcome(r: ApiResult, refundId: string): RefundOutcome {
    if (r.kind === 'network') return { kind: 'unknown', reason: r.error };
    if (r.kind === 'http') {
      if (r.status >= 500) return { kind: 'unknown', reason: r.errorCode ?? `http_${r.status}` };
      return { kind: 'declined', reason: r.errorCode ?? `http_${r.status}` };
    }
    const st = (r.body.status as unknown as string | undefined) ?? (r.body.status as { value?: string } | undefined)?.value;
    if (st === 'PARTIAL' || st === 'FULL') return { kind: 'processed', providerRef: refundId };
    return { kind: 'unknown', reason: `refund_status_${String(st)}` };
  }

  async refund(ctx: MethodContext, refund: { id: string; amount: number }): Promise<RefundOutcome> {
    const s = parseSettings(ctx.settings);
    if (!s) return { kind: 'not_sent', reason: 'not_configured' };
    const r = await this.client(s).putRefund(ctx.attempt.id, refund.id, {
      amount: { value: toMajorString(refund.amount, ctx.attempt.currency), currency: ctx.attempt.currency },
    });
    if (r.kind === 'http' && r.status < 500 && r.status !== 404) return { kind: 'declined', reason: r.errorCode ?? `http_${r.status}` };
    return this.refundOutcome(r, refund.id);
  }

  async refundStatus(ctx: MethodContext, refund: { id: string; amount: number }): Promise<RefundOutcome> {
    const s = parseSettings(ctx.settings);
    if (!s) return { kind: 'unknown', reason: 'not_configured' };
    const r = await this.client(s).getRefund(ctx.attempt.id, refund.id);
    if (r.kind === 'http' && r.status === 404) return { kind: 'not_sent', reason: 'refund_not_found' };
    return this.refundOutcome(r, refund.id);
  }
}
