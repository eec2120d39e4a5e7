import crypto from 'node:crypto';

/** Constant-time comparison of two strings (false when lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    crypto.timingSafeEqual(ab, ab);
    return false;
  }
  return crypto.timingSafeEqual(ab, bb);
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random id with a prefix, e.g. newId('ord') → "ord_3kF9…" (22 base62 chars, ~131 bits). */
export function newId(prefix: string, length = 22): string {
  const bytes = crypto.randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i]! % 62];
  return `${prefix}_${out}`;
}

/** Masks a card number to BIN (6) + last 4: 411111******1111. */
export function maskPan(pan: string): string {
  const d = pan.replace(/\D/g, '');
  if (d.length < 12) return '*'.repeat(d.length);
  return d.slice(0, 6) + '*'.repeat(d.length - 10) + d.slice(-4);
}
