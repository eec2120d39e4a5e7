import type { Logger } from 'pino';
import type { AttemptView, OrderView, PaymentsService } from '@payhub/core';
import { METHOD_ID, minor, numericCurrency, parseSettings, type YooMoneySettings } from './method';
import { verifyNotification } from './signature';

export interface Reply { status: number; body: string }

const ACTOR = 'yoomoney.notification';

function safeFacts(f: Record<string, string>) {
  return {
    label: f.label, operationId: f.operation_id, type: f.notification_type, amount: f.amount,
    withdrawAmount: f.withdraw_amount, currency: f.currency, codepro: f.codepro, unaccepted: f.unaccepted,
    test: f.test_notification,
  };
}

interface Loaded { attempt: AttemptView; order: OrderView; settings: YooMoneySettings }

/** HTTP notifications of a YooMoney wallet (providers.md §3.2). */
export class YooMoneyCallback {
  constructor(private readonly payments: PaymentsService, private readonly logger: Logger) {}

  private async load(label: string | undefined): Promise<Loaded | null> {
    if (!label || !label.startsWith('pay_')) return null;
    const attempt = await this.payments.getAttempt(label);
    if (!attempt || attempt.method !== METHOD_ID) return null;
    const order = await this.payments.getOrder(attempt.orderId);
    const settings = parseSettings(await this.payments.getMethodSettings(attempt.merchantId, METHOD_ID));
    if (!order || !settings) return null;
    return { attempt, order, settings };
  }

  private async refuse(l: Loaded, f: Record<string, string>, reason: string, status: number): Promise<Reply> {
    const facts = { reason, attemptId: l.attempt.id, orderId: l.order.id, ...safeFacts(f) };
    this.logger.warn(facts, 'yoomoney notification refused');
    await this.payments.audit({ merchantId: l.attempt.merchantId, actor: ACTOR, action: 'notification.refused', data: facts });
    return { status, body: reason };
  }

  /** First mismatch between a correctly signed notification and the stored attempt, or null. */
  private mismatch(f: Record<string, string>, l: Loaded): string | null {
    if (f.test_notification === 'true' && l.order.mode === 'live') return 'test_notification';
    if (f.currency !== numericCurrency(l.attempt.currency)) return 'currency_mismatch';
    const net = minor(f.amount, l.attempt.currency);
    const expected = l.attempt.amount;
    // What the buyer paid (not signed, but sent by the same sender) must be the order amount when present ...
    if (f.withdraw_amount !== undefined && minor(f.withdraw_amount, l.attempt.currency) !== expected) return 'amount_mismatch';
    // ... and the signed amount after YooMoney's fee must lie between the amount less the largest fee and the amount.
    const floor = Math.floor((expected * (10_000 - l.settings.maxFeeBasisPoints)) / 10_000);
    if (net === null || net > expected || net < floor) return 'amount_mismatch';
    return null;
  }

  async handle(f: Record<string, string> | null): Promise<Reply> {
    if (!f) return { status: 400, body: 'malformed request' };
    const l = await this.load(f.label);
    if (!l) {
      // The cabinet's "Test" button sends a notification without our label: acknowledge it, change nothing.
      if (f.test_notification === 'true') return { status: 200, body: 'OK' };
      this.logger.warn(safeFacts(f), 'yoomoney notification for no known attempt');
      return { status: 404, body: 'unknown label' };
    }
    if (!verifyNotification(f, l.settings.notificationSecret)) return this.refuse(l, f, 'bad_signature', 403);
    const bad = this.mismatch(f, l);
    if (bad) return this.refuse(l, f, bad, bad === 'test_notification' ? 200 : 409);

    const methodData = { operationId: f.operation_id, notificationType: f.notification_type, netAmount: f.amount };
    if (f.codepro === 'true' || f.unaccepted === 'true') {
      // Not credited yet (protection code or limits): not paid; a later notification settles it.
      await this.payments.applyOutcome(l.attempt.id, { kind: 'pending', providerRef: f.operation_id, methodData }, ACTOR);
      return { status: 200, body: 'OK' };
    }
    const after = await this.payments.applyOutcome(l.attempt.id, {
      kind: 'processed', status: 'captured', providerRef: f.operation_id, methodData,
    }, ACTOR);
    if (after.status !== 'captured') {
      const facts = { attemptId: l.attempt.id, status: after.status, ...safeFacts(f) };
      this.logger.error(facts, 'yoomoney payment notified for an attempt that cannot be captured');
      await this.payments.audit({ merchantId: l.attempt.merchantId, actor: ACTOR, action: 'notification.not_applied', data: facts });
    }
    return { status: 200, body: 'OK' };
  }
}
