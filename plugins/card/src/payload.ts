import { inspect } from 'node:util';
import { maskPan } from '@payhub/core';
import type { FundingSource } from '@payhub/core';

/**
 * What prepare() hands to start(): the card in memory. The number and the CVC live in private fields, so
 * JSON.stringify, object spread, Object.keys, pino and util.inspect never see them; only fundingSource()
 * gives them out, to the bank adapter, for one call.
 */
export class CardPayload {
  readonly #number: string;
  #cvc: string | undefined;

  constructor(
    number: string,
    readonly expMonth: number,
    readonly expYear: number,
    cvc: string | undefined,
    readonly holder: string | undefined,
    /** Token of the saved card this payment uses or stores. */
    readonly cardToken: string | undefined,
    /** Store the card under cardToken once the bank has taken the payment. */
    readonly saveCard: boolean,
    /** cardToken is new (not a card this merchant had stored already). */
    readonly tokenIsNew: boolean,
    readonly brand: string,
  ) {
    this.#number = number;
    this.#cvc = cvc;
  }

  get masked(): string {
    return maskPan(this.#number);
  }

  /** The number, for the vault only. */
  revealNumber(): string {
    return this.#number;
  }

  /** The data for the bank adapter. A saved card without a CVC goes as a card_token source. */
  fundingSource(): FundingSource {
    if (this.cardToken && !this.saveCard && this.#cvc === undefined) {
      return { type: 'card_token', token: this.cardToken, number: this.#number, expMonth: this.expMonth, expYear: this.expYear, holder: this.holder };
    }
    return { type: 'card', number: this.#number, expMonth: this.expMonth, expYear: this.expYear, cvc: this.#cvc, holder: this.holder };
  }

  /** Drops the CVC once the bank has answered (PCI 3.3.1: not retained after authorization). */
  forgetCvc(): void {
    this.#cvc = undefined;
  }

  get hasCvc(): boolean {
    return this.#cvc !== undefined;
  }

  toJSON(): Record<string, unknown> {
    return { masked: this.masked, brand: this.brand, card_token: this.cardToken };
  }

  [inspect.custom](): string {
    return `CardPayload(${this.masked})`;
  }
}
