import type { CheckoutExtension, CheckoutExtensionQuery, CheckoutExtensionResult } from '@payhub/core';
import type { Loyalty } from './service';

/**
 * The loyalty section of the hosted payment page (TOKENS.CheckoutExtension): a buyer types a card number to earn
 * points on the order being paid. Offered to merchants that set loyalty rules. Answers mask the number.
 */
export class LoyaltyCheckoutExtension implements CheckoutExtension {
  readonly id = 'loyalty';
  readonly title = { en: 'Loyalty card', ru: 'Карта лояльности', de: 'Kundenkarte' };
  readonly fields;

  constructor(private readonly svc: () => Loyalty, length: number) {
    this.fields = [{
      name: 'card_number',
      label: { en: 'Loyalty card number', ru: 'Номер карты лояльности', de: 'Nummer der Kundenkarte' },
      inputmode: 'numeric' as const,
      autocomplete: 'off',
      // Digits with the spaces or dashes a holder may type.
      maxLength: length + 8,
    }];
  }

  isOffered(q: CheckoutExtensionQuery): Promise<boolean> {
    return this.svc().hasRules(q.merchantId);
  }

  async apply(q: CheckoutExtensionQuery & { values: Readonly<Record<string, string>> }): Promise<CheckoutExtensionResult> {
    return this.svc().attachToOrder(q.merchantId, q.orderId, q.values.card_number ?? '');
  }
}
