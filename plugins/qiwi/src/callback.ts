import type { Logger } from 'pino';
import type { AttemptView, OrderView, PaymentsService } from '@payhub/core';
import { METHOD_ID, billMinor, parseSettings, type QiwiSettings } from './method';
import { billOf, verifyBill, type SignedBill } from './signature';

export interface Reply { status: number; body: unknown }

const ACTOR = 'qiwi.notification';
const OK: Reply = { status: 200, body: { error: '0' } };

function facts(b: SignedBill) {
  return { billId: b.billId, siteId: b.siteId, amount: b.amount.value, currency: b.amount.currency, status: b.status.value };
}

interface Loaded { attempt: AttemptView; order: OrderView; settings: QiwiSettings }

/** Bill notifications (providers.md §4.3): verify, reconcile with the attempt, hand to the engine; answer {"error":"0"}. */
export class QiwiCallback {
  constructor(private readonly payments: PaymentsService, private readonly logger: Logger) {}

  private async load(billId: string): Promise<Loaded | null> {
    if (!billId.startsWith('pay_')) return null;
    const attempt = await this.payments.getAttempt(billId);
    if (!attempt || attempt.method !== METHOD_ID) return null;
    const order = await this.payments.getOrder(attempt.orderId);
    const settings = parseSettings(await this.payments.getMethodSettings(attempt.merchantId, METHOD_ID));
    return order && settings ? { attempt, order, settings } : null;
  }

  private async refuse(l: Loaded, b: SignedBill, reason: string, status: number): Promise<Reply> {
    const data = { reason, attemptId: l.attempt.id, orderId: l.order.id, ...facts(b) };
    this.logger.warn(data, 'qiwi notification refused');
    await this.payments.audit({ merchantId: l.attempt.merchantId, actor: ACTOR, action: 'notification.refused', data });
    return { status, body: { error: reason } };
  }

  async handle(body: unknown, signature: string | undefined): Promise<Reply> {
    const b = billOf(body);
    if (!b) return { status: 400, body: { error: 'malformed notification' } };
    const l = await this.load(b.billId);
    if (!l) {
      this.logger.warn(facts(b), 'qiwi notification for no known bill');
      return { status: 404, body: { error: 'unknown bill' } };
    }
    if (!verifyBill(b, l.settings.secretKey, signature)) return this.refuse(l, b, 'bad_signature', 403);
    if (b.siteId !== l.settings.siteId) return this.refuse(l, b, 'site_mismatch', 409);
    if (b.amount.currency !== l.attempt.currency) return this.refuse(l, b, 'currency_mismatch', 409);
    if (billMinor(b.amount.value, l.attempt.currency) !== l.attempt.amount) return this.refuse(l, b, 'amount_mismatch', 409);

    const ref = b.billId;
    switch (b.status.value) {
      case 'PAID': {
        const after = await this.payments.applyOutcome(l.attempt.id, { kind: 'processed', status: 'captured', providerRef: ref }, ACTOR);
        if (after.status !== 'captured') {
          const data = { attemptId: l.attempt.id, attemptStatus: after.status, ...facts(b) };
          this.logger.error(data, 'qiwi bill paid for an attempt that cannot be captured');
          await this.payments.audit({ merchantId: l.attempt.merchantId, actor: ACTOR, action: 'notification.not_applied', data });
        }
        return OK;
      }
      case 'REJECTED':
        await this.payments.applyOutcome(l.attempt.id, { kind: 'declined', reason: 'rejected', message: 'The bill was rejected', providerRef: ref }, ACTOR);
        return OK;
      case 'EXPIRED':
        await this.payments.applyOutcome(l.attempt.id, { kind: 'declined', reason: 'expired', message: 'The bill expired unpaid', providerRef: ref }, ACTOR);
        return OK;
      default:
        // WAITING (or a status we do not know): nothing to conclude; a stale message never moves a payment back.
        return OK;
    }
  }
}
