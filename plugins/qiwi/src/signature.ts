/** QIWI bill notification signature X-Api-Signature-SHA256 (providers.md §4.4). */
import crypto from 'node:crypto';
import { safeEqual } from '@payhub/core';

export interface SignedBill {
  siteId: string;
  billId: string;
  amount: { value: string; currency: string };
  status: { value: string };
}

/**
 * amount.value with exactly two decimals, as QIWI's SDK hashes it — done on the string, never through a float.
 * Returns null when the value is not a plain decimal with at most two decimals.
 */
export function twoDecimals(value: string): string | null {
  const m = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(value);
  if (!m) return null;
  return `${m[1]}.${(m[2] ?? '').padEnd(2, '0')}`;
}

/** invoice_parameters = amount.currency|amount.value|billId|siteId|status.value */
export function invoiceParameters(b: SignedBill, value = b.amount.value): string {
  return [b.amount.currency, value, b.billId, b.siteId, b.status.value].join('|');
}

/** Lower-case hex HMAC-SHA256 keyed with the secret key. */
export function signBill(b: SignedBill, secretKey: string): string {
  return crypto.createHmac('sha256', secretKey).update(invoiceParameters(b, twoDecimals(b.amount.value) ?? b.amount.value), 'utf8').digest('hex');
}

/** Verifies the header against the bill as received (value normalised to two decimals as the SDK does, else raw). */
export function verifyBill(b: SignedBill, secretKey: string, header: string | undefined): boolean {
  if (typeof header !== 'string' || header.length === 0) return false;
  const got = header.trim().toLowerCase();
  const hmac = (msg: string) => crypto.createHmac('sha256', secretKey).update(msg, 'utf8').digest('hex');
  const norm = twoDecimals(b.amount.value);
  const candidates = norm && norm !== b.amount.value ? [norm, b.amount.value] : [b.amount.value];
  let ok = false;
  for (const v of candidates) ok = safeEqual(got, hmac(invoiceParameters(b, v))) || ok;
  return ok;
}

/** Reads the signed fields out of a notification body; null when the shape is wrong. */
export function billOf(body: unknown): SignedBill | null {
  const bill = (body as { bill?: unknown } | null)?.bill as Record<string, unknown> | undefined;
  if (!bill || typeof bill !== 'object') return null;
  const amount = bill.amount as Record<string, unknown> | undefined;
  const status = bill.status as Record<string, unknown> | undefined;
  const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : null);
  const siteId = str(bill.siteId);
  const billId = str(bill.billId);
  const value = str(amount?.value);
  const currency = str(amount?.currency);
  const st = str(status?.value);
  if (siteId === null || billId === null || value === null || currency === null || st === null) return null;
  return { siteId, billId, amount: { value, currency }, status: { value: st } };
}
