import crypto from 'node:crypto';
import { safeEqual } from '@payhub/core';

/** The fields of the static-page snippet, in the order of the canonical string. */
export const SNIPPET_FIELDS = ['merchant_id', 'order_number', 'amount', 'currency', 'description', 'return_url'] as const;
export type SnippetFields = Record<(typeof SNIPPET_FIELDS)[number], string>;

/**
 * `merchant_id|order_number|amount|currency|description|return_url`, the values exactly as posted (UTF-8), an
 * absent field as the empty string. Only `description` may contain `|`: every other field is refused if it does,
 * so the string splits one way only.
 */
export function canonicalString(f: SnippetFields): string {
  return SNIPPET_FIELDS.map((k) => f[k]).join('|');
}

/** Lower-case hex HMAC-SHA256 of the canonical string under the merchant's form key. */
export function signSnippet(formKey: string, f: SnippetFields): string {
  return crypto.createHmac('sha256', formKey).update(canonicalString(f), 'utf8').digest('hex');
}

export function verifySnippet(formKey: string, f: SnippetFields, signature: string): boolean {
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) return false;
  return safeEqual(signSnippet(formKey, f), signature.toLowerCase());
}

function attr(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The `<script>` tag a merchant pastes into a static page. */
export function snippetHtml(baseUrl: string, f: SnippetFields, formKey: string, integrity?: string): string {
  const sig = signSnippet(formKey, f);
  const parts = [
    `<script src="${attr(baseUrl)}/payhub.js"`,
    ...(integrity ? [`integrity="${attr(integrity)}"`, 'crossorigin="anonymous"'] : []),
    `data-merchant="${attr(f.merchant_id)}"`,
    `data-order="${attr(f.order_number)}"`,
    `data-amount="${attr(f.amount)}"`,
    `data-currency="${attr(f.currency)}"`,
    `data-description="${attr(f.description)}"`,
    `data-return-url="${attr(f.return_url)}"`,
    `data-signature="${sig}"`,
  ];
  return `${parts.join('\n  ')}></script>`;
}
