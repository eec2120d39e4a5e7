/**
 * WebMoney Merchant Interface signatures (providers.md §2.4).
 * Incoming values are hashed exactly as received; outgoing amounts use one canonical format.
 */
import crypto from 'node:crypto';
import { safeEqual } from '@payhub/core';

/** Hash method of LMI_HASH as chosen in the merchant cabinet. 'sign' (WM Keeper signature) cannot be checked here. */
export type HashMethod = 'sha256' | 'md5' | 'sign';

/** Fields of a payment notification that enter LMI_HASH / LMI_HASH2. */
export interface SignedFields {
  LMI_PAYEE_PURSE: string;
  LMI_PAYMENT_AMOUNT: string;
  /** Present only for protected (held) payments; then it follows the amount. */
  LMI_HOLD?: string;
  LMI_PAYMENT_NO: string;
  LMI_MODE: string;
  LMI_SYS_INVS_NO: string;
  LMI_SYS_TRANS_NO: string;
  LMI_SYS_TRANS_DATE: string;
  LMI_PAYER_PURSE: string;
  LMI_PAYER_WM: string;
}

export const SIGNED_FIELD_NAMES = [
  'LMI_PAYEE_PURSE', 'LMI_PAYMENT_AMOUNT', 'LMI_PAYMENT_NO', 'LMI_MODE', 'LMI_SYS_INVS_NO',
  'LMI_SYS_TRANS_NO', 'LMI_SYS_TRANS_DATE', 'LMI_PAYER_PURSE', 'LMI_PAYER_WM',
] as const;

/** The ordered list F of §2.4, secret key included. */
export function signedList(f: SignedFields, secretKey: string): string[] {
  const out = [f.LMI_PAYEE_PURSE, f.LMI_PAYMENT_AMOUNT];
  if (f.LMI_HOLD !== undefined) out.push(f.LMI_HOLD);
  out.push(f.LMI_PAYMENT_NO, f.LMI_MODE, f.LMI_SYS_INVS_NO, f.LMI_SYS_TRANS_NO, f.LMI_SYS_TRANS_DATE,
    secretKey, f.LMI_PAYER_PURSE, f.LMI_PAYER_WM);
  return out;
}

function hex(alg: 'sha256' | 'md5', s: string): string {
  return crypto.createHash(alg).update(s, 'utf8').digest('hex');
}

/** LMI_HASH = UPPER(HASH(concat(F))), no separator. */
export function lmiHash(f: SignedFields, secretKey: string, method: 'sha256' | 'md5'): string {
  return hex(method, signedList(f, secretKey).join('')).toUpperCase();
}

/** LMI_HASH2 = UPPER(SHA256(join(F, ";"))), always SHA-256. */
export function lmiHash2(f: SignedFields, secretKey: string): string {
  return hex('sha256', signedList(f, secretKey).join(';')).toUpperCase();
}

/** LMI_PAYMENTFORM_SIGN of the payment request, with the separate X20 key (lower-case hex). */
export function paymentFormSign(
  req: { purse: string; amount: string; paymentNo: string; hold?: string },
  x20Key: string,
  trailingSemicolon = true,
): string {
  const parts = [req.purse, req.amount];
  if (req.hold !== undefined) parts.push(req.hold);
  parts.push(req.paymentNo, x20Key);
  return hex('sha256', parts.join(';') + (trailingSemicolon ? ';' : ''));
}

/** Constant-time, case-insensitive comparison of hex digests. */
export function hexEqual(received: string, expected: string): boolean {
  return safeEqual(received.toUpperCase(), expected.toUpperCase());
}

/** Picks the signed fields out of a received form; undefined when one is missing. */
export function signedFieldsOf(form: Record<string, string>): SignedFields | undefined {
  for (const k of SIGNED_FIELD_NAMES) if (typeof form[k] !== 'string') return undefined;
  const f = {} as SignedFields;
  for (const k of SIGNED_FIELD_NAMES) f[k] = form[k]!;
  if (typeof form.LMI_HOLD === 'string') f.LMI_HOLD = form.LMI_HOLD;
  return f;
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * Verifies a payment notification: LMI_HASH2 when present, and LMI_HASH when present and checkable.
 * At least one of them must be present and every present one must match.
 */
export function verifyNotification(form: Record<string, string>, secretKey: string, method: HashMethod): VerifyResult {
  const f = signedFieldsOf(form);
  if (!f) return { ok: false, reason: 'missing_fields' };
  const h2 = form.LMI_HASH2;
  const h1 = form.LMI_HASH;
  let checked = 0;
  if (h2 !== undefined) {
    if (!hexEqual(h2, lmiHash2(f, secretKey))) return { ok: false, reason: 'bad_signature' };
    checked++;
  }
  if (h1 !== undefined && method !== 'sign') {
    if (!hexEqual(h1, lmiHash(f, secretKey, method))) return { ok: false, reason: 'bad_signature' };
    checked++;
  }
  return checked > 0 ? { ok: true } : { ok: false, reason: 'missing_signature' };
}

/** Purse type letter → ISO 4217 currency (providers.md §2.6); only fiat purses the hub can price. */
export const PURSE_CURRENCY: Readonly<Record<string, string>> = Object.freeze({
  Z: 'USD', E: 'EUR', R: 'RUB', P: 'RUB', U: 'UAH', B: 'BYN', K: 'KZT',
});

export const PURSE_RE = /^[A-Z][0-9]{12}$/;

export function purseCurrency(purse: string, override?: string): string | undefined {
  if (override) return override;
  return PURSE_CURRENCY[purse.charAt(0)];
}
