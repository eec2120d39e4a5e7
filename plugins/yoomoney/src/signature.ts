/** YooMoney wallet HTTP notification signature (providers.md §3.2). */
import crypto from 'node:crypto';
import { safeEqual } from '@payhub/core';

/** Order of the values in the signed string; notification_secret is the secret from the wallet settings. */
export const SIGNED_ORDER = [
  'notification_type', 'operation_id', 'amount', 'currency', 'datetime', 'sender', 'codepro', 'notification_secret', 'label',
] as const;

/** The string that is hashed: values joined with "&", absent values as empty strings. */
export function signedString(f: Record<string, string | undefined>, secret: string): string {
  return SIGNED_ORDER.map((k) => (k === 'notification_secret' ? secret : (f[k] ?? ''))).join('&');
}

/** sha1_hash: lower-case hex SHA-1 of the signed string (UTF-8). */
export function sha1Hash(f: Record<string, string | undefined>, secret: string): string {
  return crypto.createHash('sha1').update(signedString(f, secret), 'utf8').digest('hex');
}

/** Verifies sha1_hash as received (hex compared case-insensitively, in constant time). */
export function verifyNotification(f: Record<string, string | undefined>, secret: string): boolean {
  const got = f.sha1_hash;
  if (typeof got !== 'string' || got.length === 0) return false;
  return safeEqual(got.toLowerCase(), sha1Hash(f, secret));
}
