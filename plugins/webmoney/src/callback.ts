import type { Logger } from 'pino';
import type { AttemptView, OrderView, PaymentsService } from '@payhub/core';
import { METHOD_ID, amountMatches, parseSettings, type WebMoneySettings } from './method';
import { purseCurrency, verifyNotification } from './signature';
import type { PaymentNumbers } from './store';

export interface Reply {
  status: number;
  body: string;
}

const ACTOR = 'webmoney.notification';
/** Order states in which a payment may still be taken. */
const PAYABLE = new Set(['created', 'processing', 'requires_action']);
const OPEN_ATTEMPT = new Set(['requires_action', 'pending']);

/** Fields safe to keep in a log line or an audit record (never LMI_SECRET_KEY or the hashes). */
function safeFacts(f: Record<string, string>): Record<string, string | undefined> {
  return {
    paymentNo: f.LMI_PAYMENT_NO, purse: f.LMI_PAYEE_PURSE, amount: f.LMI_PAYMENT_AMOUNT, mode: f.LMI_MODE,
    invsNo: f.LMI_SYS_INVS_NO, transNo: f.LMI_SYS_TRANS_NO,
  };
}

interface Loaded {
  attempt: AttemptView;
  order: OrderView;
  settings: WebMoneySettings;
}

/**
 * Handles what WebMoney posts to the Result URL: the pre-request (answer YES or a reason)
 * and the payment notification (verify, reconcile with the order, then hand to the engine).
 */
export class WebMoneyCallback {
  constructor(
    private readonly payments: PaymentsService,
    private readonly numbers: PaymentNumbers,
    private readonly logger: Logger,
  ) {}

  private async load(paymentNo: string | undefined): Promise<Loaded | string> {
    if (!paymentNo) return 'missing LMI_PAYMENT_NO';
    const attemptId = await this.numbers.attemptOf(paymentNo);
    if (!attemptId) return 'unknown payment';
    const attempt = await this.payments.getAttempt(attemptId);
    if (!attempt || attempt.method !== METHOD_ID) return 'unknown payment';
    const order = await this.payments.getOrder(attempt.orderId);
    if (!order) return 'unknown payment';
    const settings = parseSettings(await this.payments.getMethodSettings(attempt.merchantId, METHOD_ID));
    if (!settings) return 'WebMoney is not configured';
    return { attempt, order, settings };
  }

  /** Reconciliation common to the pre-request and the notification; returns the first mismatch. */
  private mismatch(f: Record<string, string>, l: Loaded): string | null {
    const cur = purseCurrency(f.LMI_PAYEE_PURSE ?? '', f.LMI_PAYEE_PURSE === l.settings.purse ? l.settings.currency : undefined);
    if (cur !== l.attempt.currency) return 'currency_mismatch';
    if (f.LMI_PAYEE_PURSE !== l.settings.purse) return 'purse_mismatch';
    if (!amountMatches(f.LMI_PAYMENT_AMOUNT ?? '', l.attempt.amount, l.attempt.currency)) return 'amount_mismatch';
    const mode = l.order.mode === 'live' ? '0' : '1';
    if (f.LMI_MODE !== mode) return 'mode_mismatch';
    if (f.PAYHUB_ATTEMPT !== undefined && f.PAYHUB_ATTEMPT !== l.attempt.id) return 'attempt_mismatch';
    return null;
  }

  async handle(form: Record<string, string> | null): Promise<Reply> {
    if (!form) return { status: 400, body: 'malformed request' };
    // The pre-request carries no hash: it is recognised first (providers.md §2.3).
    if (form.LMI_PREREQUEST === '1') return this.prerequest(form);
    return this.notification(form);
  }

  private async prerequest(f: Record<string, string>): Promise<Reply> {
    const l = await this.load(f.LMI_PAYMENT_NO);
    if (typeof l === 'string') return { status: 200, body: `ERR: ${l}` };
    const bad = this.mismatch(f, l);
    if (bad) {
      this.logger.warn({ attemptId: l.attempt.id, reason: bad, ...safeFacts(f) }, 'webmoney pre-request refused');
      return { status: 200, body: `ERR: ${bad.replace('_', ' ')}` };
    }
    if (!OPEN_ATTEMPT.has(l.attempt.status) || !PAYABLE.has(l.order.status)) {
      return { status: 200, body: 'ERR: order is not payable' };
    }
    return { status: 200, body: 'YES' };
  }

  private async refuse(l: Loaded | null, f: Record<string, string>, reason: string, status: number): Promise<Reply> {
    const facts = { reason, ...(l ? { attemptId: l.attempt.id, orderId: l.order.id } : {}), ...safeFacts(f) };
    this.logger.warn(facts, 'webmoney notification refused');
    await this.payments.audit({ merchantId: l?.attempt.merchantId, actor: ACTOR, action: 'notification.refused', data: facts });
    // Not 2xx: WebMoney retries, so a notification refused for a settings mistake goes through once it is fixed.
    return { status, body: `ERR: ${reason}` };
  }

  private async notification(f: Record<string, string>): Promise<Reply> {
    const l = await this.load(f.LMI_PAYMENT_NO);
    if (typeof l === 'string') {
      this.logger.warn({ reason: l, ...safeFacts(f) }, 'webmoney notification for no known attempt');
      return { status: 404, body: `ERR: ${l}` };
    }
    const v = verifyNotification(f, l.settings.secretKey, l.settings.hashMethod);
    if (!v.ok) return this.refuse(l, f, v.reason, 403);
    const bad = this.mismatch(f, l);
    if (bad) return this.refuse(l, f, bad, 409);

    const transNo = f.LMI_SYS_TRANS_NO!;
    const after = await this.payments.applyOutcome(l.attempt.id, {
      kind: 'processed',
      status: 'captured',
      providerRef: transNo,
      methodData: { purse: f.LMI_PAYEE_PURSE, invoiceNo: f.LMI_SYS_INVS_NO, transferNo: transNo, payerPurse: f.LMI_PAYER_PURSE },
    }, ACTOR);
    if (after.status === 'captured') {
      await this.numbers.recordTransfer(f.LMI_PAYMENT_NO!, f.LMI_SYS_INVS_NO!, transNo);
    } else {
      // Money moved but the engine kept the attempt where it was (e.g. canceled meanwhile): an operator must look.
      const facts = { attemptId: l.attempt.id, status: after.status, ...safeFacts(f) };
      this.logger.error(facts, 'webmoney payment notified for an attempt that cannot be captured');
      await this.payments.audit({ merchantId: l.attempt.merchantId, actor: ACTOR, action: 'notification.not_applied', data: facts });
    }
    return { status: 200, body: 'YES' };
  }
}
