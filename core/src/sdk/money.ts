/**
 * Money is always an integer count of the currency's minor units plus an ISO 4217 code.
 * Never a float: parsing and formatting go through strings.
 */
export interface Money {
  /** Integer minor units (kopecks, cents). Safe integer, never fractional. */
  readonly amount: number;
  /** ISO 4217 alphabetic code, upper case. */
  readonly currency: string;
}

/** ISO 4217 currencies the hub knows, with their minor-unit exponent. */
export const CURRENCIES: Readonly<Record<string, { exponent: number; numeric: string }>> = Object.freeze({
  RUB: { exponent: 2, numeric: '643' },
  USD: { exponent: 2, numeric: '840' },
  EUR: { exponent: 2, numeric: '978' },
  KZT: { exponent: 2, numeric: '398' },
  BYN: { exponent: 2, numeric: '933' },
  UAH: { exponent: 2, numeric: '980' },
  GBP: { exponent: 2, numeric: '826' },
  CNY: { exponent: 2, numeric: '156' },
  JPY: { exponent: 0, numeric: '392' },
  KRW: { exponent: 0, numeric: '410' },
  KWD: { exponent: 3, numeric: '414' },
  BHD: { exponent: 3, numeric: '048' },
});

/** Largest amount accepted in one order, in minor units (10^12 minor units). */
export const MAX_AMOUNT = 1_000_000_000_000;

export function isKnownCurrency(code: string): boolean {
  return Object.prototype.hasOwnProperty.call(CURRENCIES, code);
}

export function currencyExponent(code: string): number {
  const c = CURRENCIES[code];
  if (!c) throw new RangeError(`unknown currency ${code}`);
  return c.exponent;
}

/** True when `n` is a positive safe integer no larger than MAX_AMOUNT. */
export function isValidAmount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 && n <= MAX_AMOUNT;
}

/**
 * Formats minor units as a decimal string in major units without floats.
 * @example toMajorString(12345, 'RUB') === '123.45'; toMajorString(500, 'JPY') === '500'
 */
export function toMajorString(amount: number, currency: string): string {
  if (!Number.isSafeInteger(amount)) throw new RangeError('amount must be an integer');
  const exp = currencyExponent(currency);
  const neg = amount < 0;
  const digits = String(Math.abs(amount));
  if (exp === 0) return (neg ? '-' : '') + digits;
  const padded = digits.padStart(exp + 1, '0');
  return (neg ? '-' : '') + padded.slice(0, -exp) + '.' + padded.slice(-exp);
}

/**
 * Parses a decimal string in major units into minor units, exactly.
 * Accepts "100", "100.5", "100.50"; refuses more fractional digits than the exponent allows.
 * @example fromMajorString('123.45', 'RUB') === 12345
 */
export function fromMajorString(value: string, currency: string): number {
  const exp = currencyExponent(currency);
  const m = /^(\d{1,13})(?:\.(\d+))?$/.exec(value.trim());
  if (!m) throw new RangeError(`not a decimal amount: ${JSON.stringify(value)}`);
  const frac = m[2] ?? '';
  if (frac.length > exp) throw new RangeError(`too many decimals for ${currency}`);
  const minor = Number(m[1] + frac.padEnd(exp, '0'));
  if (!Number.isSafeInteger(minor)) throw new RangeError('amount too large');
  return minor;
}
