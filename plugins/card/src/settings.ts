import { z } from 'zod';
import { PRODUCT_TYPES, SUPPORTED_BRANDS } from './validation';
import type { CardBrand, ProductType } from './validation';

/**
 * Per-merchant settings of the card method (PUT /v1/payment-methods/card/settings).
 * Defaults: every supported brand accepted, no product type refused (payroll cards included).
 */
export const settingsSchema = z.object({
  acceptedBrands: z.array(z.enum(SUPPORTED_BRANDS)).min(1).optional()
    .describe('Brands this merchant takes; default all supported brands'),
  refusedProductTypes: z.array(z.enum(PRODUCT_TYPES)).optional()
    .describe('Product types refused, e.g. ["credit", "prepaid"]; default none'),
  /** Identifiers of the merchant at its acquiring bank, passed to the bank adapter. */
  bankMerchantId: z.string().min(1).max(64).optional(),
  terminalId: z.string().min(1).max(64).optional(),
}).strict();

export type CardSettingsInput = z.infer<typeof settingsSchema>;

export interface CardSettings {
  readonly acceptedBrands: readonly CardBrand[];
  readonly refusedProductTypes: readonly ProductType[];
  readonly bankMerchantId?: string;
  readonly terminalId?: string;
}

/** Settings with defaults applied. Settings that fail the schema fall back to the defaults field by field. */
export function readSettings(raw: Record<string, unknown> | null | undefined): CardSettings {
  const src = raw ?? {};
  const brands = z.array(z.enum(SUPPORTED_BRANDS)).min(1).safeParse(src.acceptedBrands);
  const refused = z.array(z.enum(PRODUCT_TYPES)).safeParse(src.refusedProductTypes);
  const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
  return {
    acceptedBrands: brands.success ? brands.data : [...SUPPORTED_BRANDS],
    refusedProductTypes: refused.success ? refused.data : [],
    bankMerchantId: str(src.bankMerchantId),
    terminalId: str(src.terminalId),
  };
}
