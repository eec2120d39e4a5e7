import crypto from 'node:crypto';

/** Luhn check over a string of digits. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The check digit that makes `body` + digit Luhn-valid. */
export function luhnDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return String(d);
  throw new Error('unreachable');
}

/** A random card number in the range: prefix, random digits, Luhn check digit. */
export function newCardNumber(prefix: string, length: number): string {
  let body = prefix;
  while (body.length < length - 1) body += String(crypto.randomInt(0, 10));
  return body + luhnDigit(body);
}

export function isCardNumber(text: string, prefix: string, length: number): boolean {
  return text.length === length && text.startsWith(prefix) && luhnValid(text);
}

/** Strips spaces and dashes a holder may type. */
export const cleanNumber = (v: unknown): string => (typeof v === 'string' ? v.replace(/[\s-]/g, '') : '');

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A short secret code for the holder page (8 characters, ~40 bits). */
export function newCode(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += CODE_ALPHABET[crypto.randomInt(0, CODE_ALPHABET.length)];
  return s;
}

export const normalizeCode = (v: unknown): string => (typeof v === 'string' ? v.replace(/[\s-]/g, '').toUpperCase() : '');

/** floor(a * b / c) for non-negative safe integers, exact (BigInt). */
export function mulDivFloor(a: number, b: number, c: number): number {
  if (c <= 0) return 0;
  return Number((BigInt(a) * BigInt(b)) / BigInt(c));
}
