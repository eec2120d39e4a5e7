import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import type { CountryCode } from 'libphonenumber-js/max';

/** The number in E.164 when it is a valid phone number (national forms read in `defaultCountry`), else null. */
export function toE164(input: unknown, defaultCountry: string): string | null {
  if (typeof input !== 'string' || input.length > 32) return null;
  const p = parsePhoneNumberFromString(input, defaultCountry as CountryCode);
  return p && p.isValid() ? p.number : null;
}
