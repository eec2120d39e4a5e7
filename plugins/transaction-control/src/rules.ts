import { z } from 'zod';
import { ValidationError } from '@payhub/core';
import { parseCidr } from './ip';

/** What a rule answers when it fires. */
const action = z.enum(['review', 'deny']).default('deny');
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');
const minor = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const country = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code');
const minutes = z.number().int().min(1).max(60 * 24 * 31);
const cidr = z.string().max(64).refine((s) => parseCidr(s) !== null, 'must be an IP address or a CIDR range');

const listRule = <T extends z.ZodType>(item: T) => z.strictObject({
  /** When present, only these values pass. */
  allowed: z.array(item).max(500).optional(),
  /** These values never pass. */
  blocked: z.array(item).max(500).optional(),
  action,
});

/** The rules of one merchant (PUT /v1/risk/rules). Every part is optional; absent means "not checked". */
export const rulesSchema = z.strictObject({
  /** Largest amount of one payment, per currency (minor units): fires above it. */
  amount_per_transaction: z.array(z.strictObject({ currency, max: minor, action })).max(50).default([]),
  /** Largest total per UTC calendar day, per currency, of attempts not declined, the current one included. */
  amount_per_day: z.array(z.strictObject({ currency, max: minor, action })).max(50).default([]),
  /** No more than max_attempts attempts (the current one included) in window_minutes, per card, e-mail or IP. */
  velocity: z.array(z.strictObject({
    key: z.enum(['card', 'email', 'ip']),
    max_attempts: z.number().int().min(1).max(1_000_000),
    window_minutes: minutes,
    action,
  })).max(30).default([]),
  /** Fires when the card was declined (by the bank) max_declines times or more in window_minutes. */
  card_declines: z.strictObject({ max_declines: z.number().int().min(1).max(1000), window_minutes: minutes, action }).nullable().default(null),
  /** Card issuing country (BIN lookup). Unknown countries pass. */
  card_country: listRule(country).nullable().default(null),
  /** Card brand (visa, mastercard, mir, …). */
  card_brand: listRule(z.string().regex(/^[a-z0-9_-]{2,20}$/)).nullable().default(null),
  /** Block lists: card fingerprints (as shown in payment details), e-mails (case-insensitive), IP ranges (CIDR). */
  blocklist: z.strictObject({
    card_fingerprints: z.array(z.string().regex(/^[0-9a-f]{64}$/, 'must be a card fingerprint (64 hex digits)')).max(10_000).default([]),
    emails: z.array(z.string().min(3).max(254).regex(/^[^\s@]+@[^\s@]+$/, 'must be an e-mail address')).max(10_000).default([]),
    ip_ranges: z.array(cidr).max(10_000).default([]),
    action,
  }).nullable().default(null),
  /** Card country differs from the buyer's IP country (both must be known). */
  country_mismatch: z.strictObject({ action }).nullable().default(null),
});
export type Rules = z.infer<typeof rulesSchema>;
export type Action = 'review' | 'deny';

export const EMPTY_RULES: Rules = rulesSchema.parse({});

/** zod issues → ValidationError with dotted field paths (values are never echoed). */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, prefix = ''): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw new ValidationError(r.error.issues.map((i) => ({
    field: [prefix, ...i.path.map(String)].filter(Boolean).join('.') || (prefix || 'body'),
    message: i.message,
  })));
}

/** One fired rule, as stored with the decision. */
export interface Fired { rule: string; action: Action; value?: unknown; threshold?: unknown }

/** The facts of one attempt that the rules look at. */
export interface Facts {
  amount: number;
  currency: string;
  fingerprint: string | null;
  email: string | null;
  ip: string | null;
  brand: string | null;
  cardCountry: string | null;
  ipCountry: string | null;
}

/** Counts read from the database inside the check's transaction. */
export interface Counts {
  velocity: number[]; // per rules.velocity entry; the current attempt included
  declines: number | null;
  dayTotals: number[]; // per rules.amount_per_day entry; the current attempt included
}

/** Applies the stateless rules and the counted ones; returns the rules that fired. */
export function evaluate(rules: Rules, f: Facts, counts: Counts, blocked: { ip: boolean }): Fired[] {
  const out: Fired[] = [];
  for (const r of rules.amount_per_transaction) {
    if (r.currency === f.currency && f.amount > r.max) out.push({ rule: 'amount_per_transaction', action: r.action, value: f.amount, threshold: r.max });
  }
  rules.amount_per_day.forEach((r, i) => {
    const total = counts.dayTotals[i];
    if (r.currency === f.currency && total !== undefined && total > r.max) out.push({ rule: 'amount_per_day', action: r.action, value: total, threshold: r.max });
  });
  rules.velocity.forEach((r, i) => {
    const n = counts.velocity[i];
    if (n !== undefined && n > r.max_attempts) {
      out.push({ rule: `velocity_${r.key}`, action: r.action, value: n, threshold: { max_attempts: r.max_attempts, window_minutes: r.window_minutes } });
    }
  });
  if (rules.card_declines && counts.declines !== null && counts.declines >= rules.card_declines.max_declines) {
    const d = rules.card_declines;
    out.push({ rule: 'card_declines', action: d.action, value: counts.declines, threshold: { max_declines: d.max_declines, window_minutes: d.window_minutes } });
  }
  const list = (name: string, rule: Rules['card_country'] | Rules['card_brand'], v: string | null) => {
    if (!rule || v === null) return;
    if (rule.blocked?.includes(v)) out.push({ rule: name, action: rule.action, value: v, threshold: { blocked: rule.blocked } });
    else if (rule.allowed && !rule.allowed.includes(v)) out.push({ rule: name, action: rule.action, value: v, threshold: { allowed: rule.allowed } });
  };
  list('card_country', rules.card_country, f.cardCountry);
  list('card_brand', rules.card_brand, f.brand);
  const bl = rules.blocklist;
  if (bl) {
    if (f.fingerprint && bl.card_fingerprints.includes(f.fingerprint)) out.push({ rule: 'blocklist_card', action: bl.action, value: f.fingerprint });
    if (f.email && bl.emails.some((e) => e.toLowerCase() === f.email)) out.push({ rule: 'blocklist_email', action: bl.action, value: f.email });
    if (f.ip && blocked.ip) out.push({ rule: 'blocklist_ip', action: bl.action, value: f.ip });
  }
  if (rules.country_mismatch && f.cardCountry && f.ipCountry && f.cardCountry !== f.ipCountry) {
    out.push({ rule: 'country_mismatch', action: rules.country_mismatch.action, value: { card: f.cardCountry, ip: f.ipCountry } });
  }
  return out;
}

export function decide(fired: readonly Fired[]): 'allow' | 'review' | 'deny' {
  if (fired.some((f) => f.action === 'deny')) return 'deny';
  return fired.length > 0 ? 'review' : 'allow';
}
