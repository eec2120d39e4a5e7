/**
 * Test cards and the BIN table of the sandbox bank. Documented in the plugin README; keep both in step.
 */
import type { BinInfo } from '@payhub/core';

/** What the bank does with a card number, decided at authorization. */
export type CardBehaviour =
  | { kind: 'approve' }
  | { kind: 'decline'; reason: string }
  | { kind: 'challenge' }
  | { kind: 'lost_answer' };

/** The magic numbers of the issue table ("Card acquiring"). */
export const TEST_CARDS = Object.freeze({
  visa: '4111111111111111',
  mastercard: '5555555555554444',
  mir: '2200000000000004',
  doNotHonor: '4000000000000002',
  insufficientFunds: '4000000000009995',
  challenge: '4000000000003220',
  lostAnswer: '4000000000000119',
});

const BEHAVIOURS: Readonly<Record<string, CardBehaviour>> = {
  [TEST_CARDS.doNotHonor]: { kind: 'decline', reason: 'do_not_honor' },
  // Declined by the balance check: the card's account is empty.
  [TEST_CARDS.insufficientFunds]: { kind: 'approve' },
  [TEST_CARDS.challenge]: { kind: 'challenge' },
  [TEST_CARDS.lostAnswer]: { kind: 'lost_answer' },
};

export function cardBehaviour(pan: string): CardBehaviour {
  return BEHAVIOURS[pan] ?? { kind: 'approve' };
}

/** Opening balance of a card account, per currency, in minor units. */
export function openingCardBalance(pan: string): number {
  return pan === TEST_CARDS.insufficientFunds ? 0 : 1_000_000_000_000;
}

/** The documented BIN list; longest prefix wins. Any other number of a known brand is a debit card. */
export const BIN_TABLE: ReadonlyArray<{ prefix: string; brand: string; productType: BinInfo['productType']; issuer: string }> = [
  { prefix: '411111', brand: 'visa', productType: 'credit', issuer: 'Sandbox Bank' },
  { prefix: '555555', brand: 'mastercard', productType: 'credit', issuer: 'Sandbox Bank' },
  { prefix: '222300', brand: 'mastercard', productType: 'credit', issuer: 'Sandbox Bank' },
  { prefix: '510510', brand: 'mastercard', productType: 'prepaid', issuer: 'Sandbox Prepaid' },
  { prefix: '220220', brand: 'mir', productType: 'payroll', issuer: 'Sandbox Payroll' },
  { prefix: '220000', brand: 'mir', productType: 'debit', issuer: 'Sandbox Bank' },
  { prefix: '400000', brand: 'visa', productType: 'debit', issuer: 'Sandbox Bank' },
];

/** Card scheme from the leading digits, or undefined. */
export function brandOf(digits: string): string | undefined {
  if (/^4/.test(digits)) return 'visa';
  if (/^220[0-4]/.test(digits)) return 'mir';
  const two = Number(digits.slice(0, 2));
  const four = Number(digits.slice(0, 4));
  if (two >= 51 && two <= 55) return 'mastercard';
  if (four >= 2221 && four <= 2720) return 'mastercard';
  if (/^3[47]/.test(digits)) return 'amex';
  if (/^35(2[89]|[3-8])/.test(digits)) return 'jcb';
  if (/^62/.test(digits)) return 'unionpay';
  return undefined;
}

/** BIN lookup over the first 6 to 8 digits; null when the scheme is unknown. */
export function lookupBin(bin: string): BinInfo | null {
  if (!/^\d{6,19}$/.test(bin)) return null;
  const row = [...BIN_TABLE].sort((a, b) => b.prefix.length - a.prefix.length).find((r) => bin.startsWith(r.prefix));
  if (row) return { brand: row.brand, productType: row.productType, country: 'RU', issuer: row.issuer };
  const brand = brandOf(bin);
  if (!brand) return null;
  return { brand, productType: 'debit', country: 'RU', issuer: 'Sandbox Bank' };
}
