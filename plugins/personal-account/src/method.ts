/**
 * The `personal_account` payment method: certificate checks in prepare() (before any row is written), the bank call in
 * start() on the account provider's bank adapter.
 */
import crypto from 'node:crypto';
import type { DependencyContainer } from 'tsyringe';
import {
  TOKENS, ValidationError,
  type BankAdapter, type BankResult, type MethodContext, type MethodOutcome, type PaymentMethod, type PrepareContext,
  type PreparedInput, type RefundOutcome,
} from '@payhub/core';
import type { AccountsService, Verified } from './service';

export const METHOD_ID = 'personal_account';

export interface AccountPayload {
  accountNumber: string;
  bankAdapter: string;
}

/**
 * Certificates presented over mutual TLS, handed from the listener to prepare() by a random single-use token that
 * only lives in this process. A request body cannot carry a certificate that "came from TLS" without one.
 */
export class TlsHandoff {
  private readonly items = new Map<string, { der: Buffer; orderId: string; expires: number }>();
  put(der: Buffer, orderId: string): string {
    const now = Date.now();
    for (const [k, v] of this.items) if (v.expires < now) this.items.delete(k);
    const token = crypto.randomBytes(32).toString('base64url');
    this.items.set(token, { der, orderId, expires: now + 60_000 });
    return token;
  }
  take(token: string, orderId: string): Buffer | null {
    const item = this.items.get(token);
    this.items.delete(token);
    if (!item || item.expires < Date.now() || item.orderId !== orderId) return null;
    return item.der;
  }
}

const SIGNED_FIELDS = ['certificate', 'signature', 'signed_at', 'nonce', 'signature_alg'];

export function outcomeFromBank(r: BankResult): MethodOutcome {
  switch (r.outcome) {
    case 'processed':
      if (r.state === 'captured') return { kind: 'processed', status: 'captured', providerRef: r.bankRef };
      if (r.state === 'authorized') return { kind: 'processed', status: 'authorized', providerRef: r.bankRef };
      return { kind: 'unknown', reason: `bank_state_${r.state}`, providerRef: r.bankRef };
    case 'declined':
      return { kind: 'declined', reason: r.reason, message: r.message, providerRef: r.bankRef };
    case 'pending':
      return { kind: 'pending', providerRef: r.bankRef };
    case 'not_sent':
      return { kind: 'not_sent', reason: r.reason };
    default:
      return { kind: 'unknown', reason: r.reason };
  }
}

function refundOutcomeFromBank(r: BankResult): RefundOutcome {
  switch (r.outcome) {
    case 'processed': return { kind: 'processed', providerRef: r.bankRef };
    case 'declined': return { kind: 'declined', reason: r.reason };
    case 'pending': return { kind: 'pending', providerRef: r.bankRef };
    case 'not_sent': return { kind: 'not_sent', reason: r.reason };
    default: return { kind: 'unknown', reason: r.reason };
  }
}

export class PersonalAccountMethod implements PaymentMethod<AccountPayload> {
  readonly id = METHOD_ID;
  readonly displayName = Object.freeze({ en: 'Personal account (certificate)', ru: 'Лицевой счёт (сертификат)' });
  readonly supports = Object.freeze({ capture: false, cancel: false, refund: true, partialRefund: true });

  constructor(
    private readonly service: AccountsService,
    private readonly container: DependencyContainer,
    private readonly handoff: TlsHandoff,
  ) {}

  async prepare(ctx: PrepareContext, input: Record<string, unknown>, source: 'api' | 'page'): Promise<PreparedInput<AccountPayload>> {
    let v: Verified;
    let auth: 'mtls' | 'signature';
    if (input.mtls_token !== undefined) {
      for (const k of Object.keys(input)) if (k !== 'mtls_token') throw new ValidationError([{ field: k, message: 'unknown field' }]);
      const der = source === 'page' && typeof input.mtls_token === 'string' ? this.handoff.take(input.mtls_token, ctx.order.id) : null;
      if (!der) throw new ValidationError([{ field: 'mtls_token', message: 'unknown or expired confirmation; reload the payment page' }], undefined, 'mtls_token_invalid');
      v = await this.service.verifyForOrder(der, ctx.order);
      auth = 'mtls';
    } else {
      for (const k of Object.keys(input)) if (!SIGNED_FIELDS.includes(k)) throw new ValidationError([{ field: k, message: 'unknown field' }]);
      if (input.certificate === undefined) throw new ValidationError([{ field: 'certificate', message: 'is required (PEM)' }]);
      for (const k of ['signature', 'signed_at', 'nonce']) {
        if (input[k] === undefined) throw new ValidationError([{ field: k, message: 'is required' }]);
      }
      v = await this.service.verifyForOrder(input.certificate as string, ctx.order);
      await this.service.verifySignedRequest(v, ctx.order, input as never);
      auth = 'signature';
    }
    return {
      methodData: {
        account_id: v.account.id, provider_id: v.provider.id, bank_adapter: v.provider.bank_adapter,
        account_number_last4: v.account.account_last4, certificate_serial: v.cert.serial,
        certificate_fingerprint_sha256: v.cert.fingerprint256, authentication: auth,
      },
      payload: { accountNumber: this.service.accountNumber(v.account), bankAdapter: v.provider.bank_adapter },
    };
  }

  private adapter(id: unknown): BankAdapter | undefined {
    return this.container.resolveAll<BankAdapter>(TOKENS.BankAdapter).find((a) => a.id === id);
  }

  async start(ctx: MethodContext, payload: AccountPayload): Promise<MethodOutcome> {
    const adapter = this.adapter(payload.bankAdapter);
    if (!adapter) return { kind: 'not_sent', reason: 'bank_adapter_missing' };
    const r = await adapter.authorize({
      reference: ctx.idempotencyKey,
      amount: { amount: ctx.order.amount, currency: ctx.order.currency },
      capture: true,
      source: { type: 'account', accountNumber: payload.accountNumber },
      description: ctx.order.description,
    });
    return outcomeFromBank(r);
  }

  async status(ctx: MethodContext): Promise<MethodOutcome> {
    const adapter = this.adapter(ctx.attempt.methodData.bank_adapter);
    if (!adapter) return { kind: 'unknown', reason: 'bank_adapter_missing' };
    return outcomeFromBank(await adapter.status({ reference: ctx.idempotencyKey }));
  }

  async refund(ctx: MethodContext, refund: { id: string; amount: number }): Promise<RefundOutcome> {
    const adapter = this.adapter(ctx.attempt.methodData.bank_adapter);
    if (!adapter) return { kind: 'not_sent', reason: 'bank_adapter_missing' };
    return refundOutcomeFromBank(await adapter.refund({
      reference: ctx.idempotencyKey, refundReference: refund.id, amount: { amount: refund.amount, currency: ctx.order.currency },
    }));
  }

  async refundStatus(ctx: MethodContext, refund: { id: string; amount: number }): Promise<RefundOutcome> {
    const adapter = this.adapter(ctx.attempt.methodData.bank_adapter);
    if (!adapter) return { kind: 'unknown', reason: 'bank_adapter_missing' };
    return refundOutcomeFromBank(await adapter.status({ reference: ctx.idempotencyKey, refundReference: refund.id }));
  }
}
