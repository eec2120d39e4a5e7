import { PayhubError, ValidationError, maskPan, newId } from '@payhub/core';
import type {
  BankAdapter, BankCredentials, BankResult, BinInfo, Clock, FieldError, MerchantView, MethodContext, MethodOutcome,
  PaymentMethod, PrepareContext, PreparedInput, RefundOutcome,
} from '@payhub/core';
import { CardPayload } from './payload';
import { readSettings, settingsSchema } from './settings';
import type { CardSettings } from './settings';
import { checkCvc, checkExpiry, validateCard } from './validation';
import type { CardBrand, ProductType } from './validation';
import type { CardVault } from './vault';

/** What the card method needs from the hub; resolved lazily, at call time. */
export interface CardDeps {
  clock(): Clock;
  vault(): CardVault;
  /** Every registered bank adapter. */
  adapters(): readonly BankAdapter[];
  /** Public base URL of the hub, for the 3-D Secure return address. */
  baseUrl(): string | null;
}

const TOKEN_RE = /^ctok_[0-9A-Za-z]{8,34}$/;

/** Replaces any run of 12-19 digits (with separators) by its masked form: for texts that leave our hands. */
export function scrub(text: string): string {
  return text.replace(/\d(?:[ -]?\d){11,18}/g, (m) => maskPan(m));
}

function errorText(e: unknown): string {
  const err = e as { name?: string; code?: string; message?: string };
  return scrub(`${err?.name ?? 'Error'}${err?.code ? ` ${err.code}` : ''}: ${err?.message ?? String(e)}`).slice(0, 300);
}

/** Bank answer → engine outcome. `methodData` is the attempt's full method data (the engine may merge or replace). */
export function toMethodOutcome(r: BankResult, methodData?: Record<string, unknown>): MethodOutcome {
  switch (r.outcome) {
    case 'processed':
      if (r.state === 'voided') return { kind: 'canceled', reason: 'voided' };
      return {
        kind: 'processed',
        status: r.state === 'authorized' ? 'authorized' : 'captured',
        providerRef: r.bankRef,
        ...(methodData ? { methodData: r.authCode ? { ...methodData, auth_code: r.authCode } : methodData } : {}),
      };
    case 'pending':
      if (r.challenge) {
        const expires = r.challenge.expiresAt ? new Date(r.challenge.expiresAt) : undefined;
        return {
          kind: 'requires_action',
          nextAction: { type: 'redirect', url: r.challenge.url },
          providerRef: r.bankRef,
          ...(expires && !Number.isNaN(expires.getTime()) ? { actionExpiresAt: expires } : {}),
        };
      }
      return { kind: 'pending', providerRef: r.bankRef };
    case 'declined':
      return {
        kind: 'declined', reason: r.reason, message: r.message, providerRef: r.bankRef,
        ...(methodData ? { methodData } : {}),
      };
    case 'not_sent':
      return { kind: 'not_sent', reason: r.reason };
    case 'unknown':
      return { kind: 'unknown', reason: r.reason };
    default:
      return { kind: 'unknown', reason: 'unrecognised bank answer' };
  }
}

/** Bank answer about a refund → engine refund outcome. */
export function toRefundOutcome(r: BankResult): RefundOutcome {
  switch (r.outcome) {
    case 'processed': return { kind: 'processed', providerRef: r.bankRef };
    case 'pending': return { kind: 'pending', providerRef: r.bankRef };
    case 'declined': return { kind: 'declined', reason: r.reason };
    case 'not_sent': return { kind: 'not_sent', reason: r.reason };
    case 'unknown': return { kind: 'unknown', reason: r.reason };
    default: return { kind: 'unknown', reason: 'unrecognised bank answer' };
  }
}

/**
 * The bank-side credentials of a call: the merchant's recorded bank contract when the hub keeps one
 * (ctx.bankCredentials, from onboarding), else the terminal set in the card settings, else the adapter's defaults.
 */
function credentialsOf(s: CardSettings, ctx?: { bankCredentials?: BankCredentials | null }): BankCredentials | undefined {
  if (ctx?.bankCredentials) return ctx.bankCredentials;
  if (!s.bankMerchantId && !s.terminalId) return undefined;
  return { merchantId: s.bankMerchantId, terminalId: s.terminalId };
}

/** The 'card' payment method: raw cards (payment page, or server-to-server when allowed) and saved cards. */
export class CardMethod implements PaymentMethod<CardPayload> {
  readonly id = 'card';
  readonly displayName = Object.freeze({ en: 'Bank card', ru: 'Банковская карта' });
  readonly supports = Object.freeze({ capture: true, partialCapture: true, cancel: true, refund: true, partialRefund: true });
  readonly settingsSchema = settingsSchema;
  readonly secretSettings = Object.freeze([] as string[]);
  /** prepare validates and looks the BIN up; a saved card is only read. */
  readonly prepareIsReadOnly = true;

  constructor(private readonly deps: CardDeps) {}

  private adapters(): readonly BankAdapter[] {
    try {
      return this.deps.adapters();
    } catch {
      return [];
    }
  }

  private adapterFor(merchant: MerchantView): BankAdapter | null {
    return this.adapters().find((a) => a.id === merchant.bankAdapter) ?? null;
  }

  private requireAdapter(merchant: MerchantView): BankAdapter {
    const a = this.adapterFor(merchant);
    if (!a) {
      throw new PayhubError('bank_adapter_unavailable', `Card payments are unavailable: bank adapter "${merchant.bankAdapter}" is not installed`, { status: 503 });
    }
    return a;
  }

  isAvailable(merchant: MerchantView): boolean {
    return this.adapterFor(merchant) !== null;
  }

  /** Product type via the bank's BIN table. A failed lookup is 'unknown' unless the merchant refuses some types. */
  private async productType(adapter: BankAdapter, pan: string, settings: CardSettings): Promise<BinInfo> {
    try {
      const info = await adapter.binLookup(pan.slice(0, 6));
      return info ?? { productType: 'unknown' };
    } catch {
      if (settings.refusedProductTypes.length > 0) {
        throw new PayhubError('bin_lookup_unavailable', 'The card type cannot be checked now; try again later', { status: 503 });
      }
      return { productType: 'unknown' };
    }
  }

  private checkPolicy(brand: string, bin: BinInfo, settings: CardSettings, field: string): void {
    if (!settings.acceptedBrands.includes(brand as CardBrand)) {
      throw new ValidationError([{ field, message: `${brand} cards are not accepted by this merchant` }], undefined, 'card_brand_not_accepted');
    }
    if (bin.productType !== 'unknown' && settings.refusedProductTypes.includes(bin.productType as ProductType)) {
      throw new ValidationError([{ field, message: `${bin.productType} cards are not accepted by this merchant` }], undefined, 'card_product_not_accepted');
    }
  }

  async prepare(ctx: PrepareContext, input: Record<string, unknown>, source: 'api' | 'page'): Promise<PreparedInput<CardPayload>> {
    const settings = readSettings(ctx.settings);
    const hasCard = input.card !== undefined && input.card !== null;
    const hasToken = input.card_token !== undefined && input.card_token !== null;
    if (hasCard && hasToken) throw new ValidationError([{ field: 'card_token', message: 'give either card or card_token, not both' }]);
    if (!hasCard && !hasToken) throw new ValidationError([{ field: 'card', message: 'is required (or card_token for a saved card)' }]);
    if (input.save_card !== undefined && typeof input.save_card !== 'boolean') {
      throw new ValidationError([{ field: 'save_card', message: 'must be true or false' }]);
    }
    return hasCard ? this.prepareCard(ctx, input, source, settings) : this.prepareToken(ctx, input, settings);
  }

  private async prepareCard(ctx: PrepareContext, input: Record<string, unknown>, source: 'api' | 'page', settings: CardSettings): Promise<PreparedInput<CardPayload>> {
    // Raw card data over the API puts the merchant's servers in PCI scope: only test mode or an explicit permission.
    if (source === 'api' && ctx.merchant.mode !== 'test' && !ctx.merchant.directCardInput) {
      throw new PayhubError('direct_card_input_not_allowed',
        'This merchant may not send card data server-to-server; send the buyer to the payment page', { status: 403 });
    }
    const v = validateCard(input.card, this.deps.clock().now(), { holderRequired: source === 'page' });
    if (!v.ok) throw new ValidationError(v.errors);
    const card = v.card;
    const adapter = this.requireAdapter(ctx.merchant);
    const bin = await this.productType(adapter, card.number, settings);
    this.checkPolicy(card.brand, bin, settings, 'card.number');
    const vault = this.deps.vault();
    const fingerprint = vault.fingerprint(card.number);
    let cardToken: string | undefined;
    let tokenIsNew = false;
    if (input.save_card === true) {
      cardToken = (await vault.findByFingerprint(ctx.merchant.id, fingerprint)) ?? undefined;
      if (!cardToken) {
        cardToken = newId('ctok');
        tokenIsNew = true;
      }
    }
    const payload = new CardPayload(card.number, card.expMonth, card.expYear, card.cvc, card.holder, cardToken, input.save_card === true, tokenIsNew, card.brand);
    return { methodData: this.methodData(card.number, card.brand, card.expMonth, card.expYear, fingerprint, bin, cardToken), payload };
  }

  private async prepareToken(ctx: PrepareContext, input: Record<string, unknown>, settings: CardSettings): Promise<PreparedInput<CardPayload>> {
    const token = input.card_token;
    if (typeof token !== 'string' || !TOKEN_RE.test(token)) throw new ValidationError([{ field: 'card_token', message: 'is not a card token' }]);
    if (input.save_card === true) throw new ValidationError([{ field: 'save_card', message: 'the card is saved already' }]);
    const errors: FieldError[] = [];
    const saved = await this.deps.vault().load(ctx.merchant.id, token);
    if (!saved) throw new ValidationError([{ field: 'card_token', message: 'not found' }], undefined, 'card_token_not_found');
    const brand = saved.brand as CardBrand;
    const cvc = checkCvc(input.cvc, brand, false, errors, 'cvc');
    const exp = checkExpiry(saved.expMonth, saved.expYear, this.deps.clock().now(), []);
    if (!exp) errors.push({ field: 'card_token', message: 'the saved card has expired' });
    if (errors.length > 0) throw new ValidationError(errors);
    const adapter = this.requireAdapter(ctx.merchant);
    const bin = await this.productType(adapter, saved.number, settings);
    this.checkPolicy(brand, bin, settings, 'card_token');
    const payload = new CardPayload(saved.number, saved.expMonth, saved.expYear, cvc, undefined, token, false, false, brand);
    return { methodData: this.methodData(saved.number, brand, saved.expMonth, saved.expYear, saved.fingerprint, bin, token), payload };
  }

  /** Safe facts kept with the attempt: masked number (BIN + last 4) at most, never the CVC. */
  private methodData(pan: string, brand: string, expMonth: number, expYear: number, fingerprint: string, bin: BinInfo, cardToken?: string): Record<string, unknown> {
    return {
      brand,
      masked: maskPan(pan),
      bin: pan.slice(0, 6),
      last4: pan.slice(-4),
      fingerprint,
      exp_month: expMonth,
      exp_year: expYear,
      product_type: bin.productType,
      ...(bin.country ? { issuer_country: bin.country } : {}),
      ...(cardToken ? { card_token: cardToken } : {}),
    };
  }

  private returnUrl(ctx: MethodContext): string | undefined {
    let base: string | null = null;
    try {
      base = this.deps.baseUrl();
    } catch {
      base = null;
    }
    base = base ?? ctx.request?.baseUrl ?? null;
    return base ? `${base.replace(/\/+$/, '')}/return/${ctx.attempt.id}` : undefined;
  }

  /** Runs a bank call; an exception means we cannot tell whether the bank acted: 'unknown'. */
  private async call(ctx: MethodContext, what: string, fn: () => Promise<BankResult>): Promise<BankResult> {
    try {
      return await fn();
    } catch (e) {
      ctx.logger.warn({ attempt: ctx.attempt.id, op: what, err: errorText(e) }, 'card: bank call failed');
      return { outcome: 'unknown', reason: `bank ${what} failed` };
    }
  }

  async start(ctx: MethodContext, payload: CardPayload): Promise<MethodOutcome> {
    const adapter = this.adapterFor(ctx.merchant);
    if (!adapter) {
      payload.forgetCvc();
      return { kind: 'not_sent', reason: `bank adapter ${ctx.merchant.bankAdapter} is not installed` };
    }
    const settings = readSettings(ctx.settings);
    let result: BankResult;
    try {
      result = await this.call(ctx, 'authorize', () => adapter.authorize({
        reference: ctx.idempotencyKey,
        amount: { amount: ctx.attempt.amount, currency: ctx.attempt.currency },
        capture: ctx.order.captureMode === 'automatic',
        source: payload.fundingSource(),
        description: ctx.order.description || undefined,
        returnUrl: this.returnUrl(ctx),
        credentials: credentialsOf(settings, ctx),
      }));
    } finally {
      payload.forgetCvc();
    }
    let methodData: Record<string, unknown> = { ...ctx.attempt.methodData };
    if (payload.saveCard && payload.cardToken) {
      const taken = result.outcome === 'processed' || result.outcome === 'pending' || result.outcome === 'unknown';
      if (taken) {
        try {
          await this.deps.vault().save({
            token: payload.cardToken,
            merchantId: ctx.merchant.id,
            number: payload.revealNumber(),
            brand: payload.brand,
            expMonth: payload.expMonth,
            expYear: payload.expYear,
          });
        } catch (e) {
          ctx.logger.error({ attempt: ctx.attempt.id, err: errorText(e) }, 'card: saving the card failed');
          methodData = { ...methodData, card_token: null, card_saved: false };
        }
      } else if (payload.tokenIsNew) {
        // Declined or never sent: the card is not stored, so the token promised in prepare() does not exist.
        methodData = { ...methodData, card_token: null, card_saved: false };
      }
    }
    return toMethodOutcome(result, methodData);
  }

  async completeAction(ctx: MethodContext, params: Record<string, string>): Promise<MethodOutcome> {
    const adapter = this.adapterFor(ctx.merchant);
    if (!adapter) return { kind: 'unknown', reason: `bank adapter ${ctx.merchant.bankAdapter} is not installed` };
    const credentials = credentialsOf(readSettings(ctx.settings), ctx);
    const result = adapter.completeChallenge
      ? await this.call(ctx, 'completeChallenge', () => adapter.completeChallenge!({ reference: ctx.idempotencyKey, params, credentials }))
      : await this.call(ctx, 'status', () => adapter.status({ reference: ctx.idempotencyKey, credentials }));
    return toMethodOutcome(result, { ...ctx.attempt.methodData });
  }

  async capture(ctx: MethodContext, amount: number): Promise<MethodOutcome> {
    const adapter = this.adapterFor(ctx.merchant);
    if (!adapter) return { kind: 'not_sent', reason: `bank adapter ${ctx.merchant.bankAdapter} is not installed` };
    const credentials = credentialsOf(readSettings(ctx.settings), ctx);
    const result = await this.call(ctx, 'capture', () => adapter.capture({
      reference: ctx.idempotencyKey, amount: { amount, currency: ctx.attempt.currency }, credentials,
    }));
    return toMethodOutcome(result);
  }

  async cancel(ctx: MethodContext): Promise<MethodOutcome> {
    const adapter = this.adapterFor(ctx.merchant);
    if (!adapter) return { kind: 'not_sent', reason: `bank adapter ${ctx.merchant.bankAdapter} is not installed` };
    const credentials = credentialsOf(readSettings(ctx.settings), ctx);
    return toMethodOutcome(await this.call(ctx, 'void', () => adapter.void({ reference: ctx.idempotencyKey, credentials })));
  }

  async refund(ctx: MethodContext, refund: { id: string; amount: number }): Promise<RefundOutcome> {
    const adapter = this.adapterFor(ctx.merchant);
    if (!adapter) return { kind: 'not_sent', reason: `bank adapter ${ctx.merchant.bankAdapter} is not installed` };
    const credentials = credentialsOf(readSettings(ctx.settings), ctx);
    return toRefundOutcome(await this.call(ctx, 'refund', () => adapter.refund({
      reference: ctx.idempotencyKey, refundReference: refund.id, amount: { amount: refund.amount, currency: ctx.attempt.currency }, credentials,
    })));
  }

  async status(ctx: MethodContext): Promise<MethodOutcome> {
    const adapter = this.adapterFor(ctx.merchant);
    if (!adapter) return { kind: 'unknown', reason: `bank adapter ${ctx.merchant.bankAdapter} is not installed` };
    const credentials = credentialsOf(readSettings(ctx.settings), ctx);
    return toMethodOutcome(await this.call(ctx, 'status', () => adapter.status({ reference: ctx.idempotencyKey, credentials })), { ...ctx.attempt.methodData });
  }

  async refundStatus(ctx: MethodContext, refund: { id: string; amount: number }): Promise<RefundOutcome> {
    const adapter = this.adapterFor(ctx.merchant);
    if (!adapter) return { kind: 'unknown', reason: `bank adapter ${ctx.merchant.bankAdapter} is not installed` };
    const credentials = credentialsOf(readSettings(ctx.settings), ctx);
    return toRefundOutcome(await this.call(ctx, 'refund status', () => adapter.status({
      reference: ctx.idempotencyKey, refundReference: refund.id, credentials,
    })));
  }
}
