import creditCardType from 'credit-card-type';
import type { FieldError } from '@payhub/core';

/**
 * Card input rules. Pure functions: no I/O, no clock of their own (the hub clock is passed in).
 * No message built here ever contains the card number, the CVC or any part of them.
 */

/** Brands the hub accepts, as named by credit-card-type. Anything else is refused. */
export const SUPPORTED_BRANDS = ['visa', 'mastercard', 'maestro', 'mir', 'unionpay', 'jcb'] as const;
export type CardBrand = (typeof SUPPORTED_BRANDS)[number];

export const PRODUCT_TYPES = ['debit', 'credit', 'prepaid', 'payroll'] as const;
export type ProductType = (typeof PRODUCT_TYPES)[number];

const SUPPORTED = new Set<string>(SUPPORTED_BRANDS);

/** How far ahead an expiry date may be (years). Beyond that the date is a typo. */
export const MAX_EXPIRY_YEARS_AHEAD = 20;

/** Luhn (mod 10) check over a string of digits. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Strips the separators a buyer may type (spaces, dashes). Anything else stays and fails the digit check. */
export function normalizeNumber(raw: string): string {
  return raw.replace(/[\s-]/g, '');
}

export interface BrandInfo {
  readonly brand: CardBrand;
  readonly lengths: readonly number[];
  readonly codeSize: number;
}

/**
 * Brand of a digit string among the supported ones, or null. credit-card-type lists candidates by match
 * strength; the first supported candidate wins (e.g. MIR for 2200–2204, Mastercard for 2221–2720).
 */
export function detectBrand(digits: string): BrandInfo | null {
  if (!/^\d{1,19}$/.test(digits)) return null;
  for (const t of creditCardType(digits)) {
    if (SUPPORTED.has(t.type)) return { brand: t.type as CardBrand, lengths: [...t.lengths], codeSize: t.code.size };
  }
  return null;
}

/** Code (CVC/CVV/CVP2) size of a supported brand. */
export function codeSizeOf(brand: CardBrand): number {
  return creditCardType.getTypeInfo(brand).code.size;
}

export interface ValidCard {
  readonly number: string;
  readonly brand: CardBrand;
  readonly expMonth: number;
  readonly expYear: number;
  readonly cvc?: string;
  readonly holder?: string;
}

/** Reads an integer given as a JSON number or a string of digits; null otherwise. */
function intOf(v: unknown): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^\d{1,4}$/.test(v.trim())) return Number(v.trim());
  return null;
}

/** Checks a card number; returns its digits and brand, or pushes a field error. */
export function checkNumber(raw: unknown, errors: FieldError[], field = 'card.number'): { digits: string; brand: BrandInfo } | null {
  if (typeof raw !== 'string' || raw.trim() === '') {
    errors.push({ field, message: 'is required as a string of digits' });
    return null;
  }
  if (raw.length > 40) {
    errors.push({ field, message: 'is too long' });
    return null;
  }
  const digits = normalizeNumber(raw);
  if (!/^\d+$/.test(digits)) {
    errors.push({ field, message: 'must contain digits only (spaces and dashes are allowed between groups)' });
    return null;
  }
  const brand = detectBrand(digits);
  if (!brand) {
    errors.push({ field, message: 'card brand is not supported' });
    return null;
  }
  if (!brand.lengths.includes(digits.length)) {
    errors.push({ field, message: `has a wrong length for ${brand.brand} (${brand.lengths.join(', ')} digits)` });
    return null;
  }
  if (!luhnValid(digits)) {
    errors.push({ field, message: 'is not a valid card number (check digit)' });
    return null;
  }
  return { digits, brand };
}

/**
 * Checks an expiry date against `now`. A card is valid through the last day of its expiry month (UTC).
 * Two-digit years are read as 20yy.
 */
export function checkExpiry(rawMonth: unknown, rawYear: unknown, now: Date, errors: FieldError[], prefix = 'card'): { month: number; year: number } | null {
  const month = intOf(rawMonth);
  let year = intOf(rawYear);
  let ok = true;
  if (month === null || month < 1 || month > 12) {
    errors.push({ field: `${prefix}.exp_month`, message: 'must be a month number 1-12' });
    ok = false;
  }
  if (year !== null && year < 100) year += 2000;
  if (year === null || year < 2000 || year > 2099) {
    errors.push({ field: `${prefix}.exp_year`, message: 'must be a year (YYYY or YY)' });
    ok = false;
  }
  if (!ok) return null;
  const nowIndex = now.getUTCFullYear() * 12 + now.getUTCMonth();
  const expIndex = year! * 12 + (month! - 1);
  if (expIndex < nowIndex) {
    errors.push({ field: `${prefix}.exp_year`, message: 'the card has expired' });
    return null;
  }
  if (expIndex > nowIndex + MAX_EXPIRY_YEARS_AHEAD * 12) {
    errors.push({ field: `${prefix}.exp_year`, message: `is more than ${MAX_EXPIRY_YEARS_AHEAD} years ahead` });
    return null;
  }
  return { month: month!, year: year! };
}

/** Checks a security code for a brand. The value itself is never echoed. */
export function checkCvc(raw: unknown, brand: CardBrand | null, required: boolean, errors: FieldError[], field = 'card.cvc'): string | undefined {
  if (raw === undefined || raw === null || raw === '') {
    if (required) errors.push({ field, message: 'is required' });
    return undefined;
  }
  if (typeof raw !== 'string' || !/^\d{3,4}$/.test(raw)) {
    errors.push({ field, message: 'must be a string of 3 or 4 digits' });
    return undefined;
  }
  if (brand) {
    const size = codeSizeOf(brand);
    if (raw.length !== size) {
      errors.push({ field, message: `must be ${size} digits for ${brand}` });
      return undefined;
    }
  }
  return raw;
}

const HOLDER_RE = /^[A-Za-z][A-Za-z .'-]*$/;

/** Card holder as embossed: latin letters, spaces, dots, hyphens, apostrophes; 2-26 characters. */
export function checkHolder(raw: unknown, required: boolean, errors: FieldError[], field = 'card.holder'): string | undefined {
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
    if (required) errors.push({ field, message: 'is required' });
    return undefined;
  }
  if (typeof raw !== 'string') {
    errors.push({ field, message: 'must be a string' });
    return undefined;
  }
  const holder = raw.trim().replace(/\s+/g, ' ');
  if (holder.length < 2 || holder.length > 26) {
    errors.push({ field, message: 'must be 2-26 characters' });
    return undefined;
  }
  if (!HOLDER_RE.test(holder)) {
    errors.push({ field, message: 'may contain latin letters, spaces, dots, hyphens and apostrophes only' });
    return undefined;
  }
  return holder;
}

/**
 * Validates a raw card object ({number, exp_month, exp_year, cvc, holder}). Collects every field error;
 * returns the card or the list of errors.
 */
export function validateCard(
  card: unknown,
  now: Date,
  opts: { holderRequired: boolean; cvcRequired?: boolean },
): { ok: true; card: ValidCard } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (card === null || typeof card !== 'object' || Array.isArray(card)) {
    return { ok: false, errors: [{ field: 'card', message: 'must be an object' }] };
  }
  const c = card as Record<string, unknown>;
  const num = checkNumber(c.number, errors);
  const exp = checkExpiry(c.exp_month, c.exp_year, now, errors);
  const cvc = checkCvc(c.cvc, num?.brand.brand ?? null, opts.cvcRequired ?? true, errors);
  const holder = checkHolder(c.holder, opts.holderRequired, errors);
  if (errors.length > 0 || !num || !exp) return { ok: false, errors };
  return {
    ok: true,
    card: { number: num.digits, brand: num.brand.brand, expMonth: exp.month, expYear: exp.year, cvc, holder },
  };
}
