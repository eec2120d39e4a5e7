/**
 * Bank-adapter conformance kit: a list of checks every BankAdapter must pass, driven by the adapter's
 * {@link BankConformanceProfile} (test cards, 3-D Secure helper, the bank's ledger).
 *
 * Checks run one after another (some compare the bank's ledger before and after) and never in parallel with
 * another run against the same bank.
 */
import crypto from 'node:crypto';
import type { AuthorizeRequest, BankAdapter, BankConformanceProfile, BankResult } from '@payhub/core';

export interface ConformanceCheck {
  /** Stable kebab-case name (used by --only and in reports). */
  readonly name: string;
  readonly description: string;
  /** False when the profile lacks what the check needs (e.g. no 3-D Secure card). */
  applies?(profile: BankConformanceProfile): boolean;
  run(adapter: BankAdapter, profile: BankConformanceProfile): Promise<void>;
}

export interface CheckResult {
  readonly name: string;
  readonly status: 'passed' | 'failed' | 'not_applicable';
  readonly message?: string;
}

/** A check's refusal: the message says what the adapter did and what was expected. */
export class ConformanceFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConformanceFailure';
  }
}

const RETURN_URL = 'https://shop.example/conformance/return';

function fail(msg: string): never {
  throw new ConformanceFailure(msg);
}

function show(r: BankResult): string {
  return JSON.stringify(r);
}

function newReference(check: string): string {
  return `conf_${check.replace(/[^a-z0-9]/g, '')}_${crypto.randomBytes(6).toString('hex')}`;
}

const amountOf = (p: BankConformanceProfile) => p.amount ?? 10_000;

function card(p: BankConformanceProfile, number: string): AuthorizeRequest['source'] {
  return { type: 'card', number, expMonth: p.cards.expMonth, expYear: p.cards.expYear, ...(p.cards.cvc ? { cvc: p.cards.cvc } : {}) };
}

function authReq(p: BankConformanceProfile, reference: string, number: string, opts: { capture?: boolean; amount?: number; returnUrl?: string } = {}): AuthorizeRequest {
  return {
    reference,
    amount: { amount: opts.amount ?? amountOf(p), currency: p.currency },
    capture: opts.capture ?? false,
    source: card(p, number),
    description: 'Payhub conformance check',
    ...(opts.returnUrl ? { returnUrl: opts.returnUrl } : {}),
    ...(p.credentials ? { credentials: p.credentials } : {}),
  };
}

function creds(p: BankConformanceProfile) {
  return p.credentials ? { credentials: p.credentials } : {};
}

type Processed = Extract<BankResult, { outcome: 'processed' }>;

function expectProcessed(r: BankResult, what: string, state?: Processed['state'] | Processed['state'][]): Processed {
  if (r.outcome !== 'processed') fail(`${what}: expected processed${state ? ` (${[state].flat().join('/')})` : ''}, got ${show(r)}`);
  if (state && ![state].flat().includes(r.state)) fail(`${what}: expected state ${[state].flat().join('/')}, got ${show(r)}`);
  return r;
}

function expectDeclined(r: BankResult, what: string, reason?: string): Extract<BankResult, { outcome: 'declined' }> {
  if (r.outcome !== 'declined') fail(`${what}: expected declined${reason ? ` (${reason})` : ''}, got ${show(r)}`);
  if (!r.reason) fail(`${what}: a decline must carry a reason, got ${show(r)}`);
  if (reason && r.reason !== reason) fail(`${what}: expected decline reason "${reason}", got "${r.reason}"`);
  return r;
}

function expectAmount(r: Processed, field: 'amountAuthorized' | 'amountCaptured' | 'amountRefunded', expected: number, what: string): void {
  const v = r[field];
  if (v !== undefined && v !== expected) fail(`${what}: ${field} should be ${expected}, the adapter reports ${v}`);
}

async function authorized(adapter: BankAdapter, p: BankConformanceProfile, check: string, capture = false): Promise<string> {
  const ref = newReference(check);
  expectProcessed(await adapter.authorize(authReq(p, ref, p.cards.approve, { capture })), 'authorize of the approved card', capture ? 'captured' : 'authorized');
  return ref;
}

async function bankOps(adapter: BankAdapter, p: BankConformanceProfile) {
  return p.bankOperations ? [...(await p.bankOperations(adapter))] : null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Every check, in the order they run. */
export const checks: readonly ConformanceCheck[] = [
  {
    name: 'approve',
    description: 'the approved card is authorized, and status() agrees',
    async run(a, p) {
      const ref = newReference(this.name);
      const r = expectProcessed(await a.authorize(authReq(p, ref, p.cards.approve)), 'authorize', 'authorized');
      expectAmount(r, 'amountAuthorized', amountOf(p), 'authorize');
      const s = expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after authorize', 'authorized');
      expectAmount(s, 'amountAuthorized', amountOf(p), 'status');
    },
  },
  {
    name: 'approve-and-capture',
    description: 'a one-stage payment (capture: true) is captured at once',
    async run(a, p) {
      const ref = newReference(this.name);
      const r = expectProcessed(await a.authorize(authReq(p, ref, p.cards.approve, { capture: true })), 'authorize with capture', 'captured');
      expectAmount(r, 'amountCaptured', amountOf(p), 'authorize with capture');
      expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after one-stage payment', 'captured');
    },
  },
  {
    name: 'decline-with-reason',
    description: 'the declined card is declined with a reason, and status() agrees',
    async run(a, p) {
      const ref = newReference(this.name);
      expectDeclined(await a.authorize(authReq(p, ref, p.cards.decline)), 'authorize of the declined card', p.cards.declineReason);
      expectDeclined(await a.status({ reference: ref, ...creds(p) }), 'status of the declined payment');
    },
  },
  {
    name: 'partial-capture',
    description: 'part of an authorization can be captured, once',
    async run(a, p) {
      const ref = await authorized(a, p, this.name);
      const half = amountOf(p) / 2;
      const c = expectProcessed(await a.capture({ reference: ref, amount: { amount: half, currency: p.currency }, ...creds(p) }), 'partial capture', 'captured');
      expectAmount(c, 'amountCaptured', half, 'partial capture');
      const again = await a.capture({ reference: ref, amount: { amount: half / 2, currency: p.currency }, ...creds(p) });
      if (again.outcome === 'processed') fail(`a second capture of a different amount must be refused, got ${show(again)}`);
      const s = expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after partial capture', 'captured');
      expectAmount(s, 'amountCaptured', half, 'status after partial capture');
    },
  },
  {
    name: 'full-capture',
    description: 'the whole authorization can be captured',
    async run(a, p) {
      const ref = await authorized(a, p, this.name);
      const c = expectProcessed(await a.capture({ reference: ref, amount: { amount: amountOf(p), currency: p.currency }, ...creds(p) }), 'full capture', 'captured');
      expectAmount(c, 'amountCaptured', amountOf(p), 'full capture');
      expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after full capture', 'captured');
    },
  },
  {
    name: 'capture-checks-amount-and-currency',
    description: 'a capture above the authorization or in another currency is refused and changes nothing',
    async run(a, p) {
      const ref = await authorized(a, p, this.name);
      const other = p.currency === 'EUR' ? 'USD' : 'EUR';
      const wrongCurrency = await a.capture({ reference: ref, amount: { amount: amountOf(p), currency: other }, ...creds(p) });
      if (wrongCurrency.outcome === 'processed') fail(`capture in ${other} of a ${p.currency} payment must be refused, got ${show(wrongCurrency)}`);
      const tooMuch = await a.capture({ reference: ref, amount: { amount: amountOf(p) + 1, currency: p.currency }, ...creds(p) });
      if (tooMuch.outcome === 'processed') fail(`capture above the authorized amount must be refused, got ${show(tooMuch)}`);
      expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after refused captures', 'authorized');
    },
  },
  {
    name: 'void',
    description: 'an authorization can be voided before capture; a capture after it is refused',
    async run(a, p) {
      const ref = await authorized(a, p, this.name);
      expectProcessed(await a.void({ reference: ref, ...creds(p) }), 'void', 'voided');
      expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after void', 'voided');
      const c = await a.capture({ reference: ref, amount: { amount: amountOf(p), currency: p.currency }, ...creds(p) });
      if (c.outcome === 'processed') fail(`capture after void must be refused, got ${show(c)}`);
    },
  },
  {
    name: 'void-after-capture-refused',
    description: 'a captured payment cannot be voided',
    async run(a, p) {
      const ref = await authorized(a, p, this.name, true);
      const v = await a.void({ reference: ref, ...creds(p) });
      if (v.outcome === 'processed') fail(`void after capture must be refused, got ${show(v)}`);
      expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after refused void', 'captured');
    },
  },
  {
    name: 'partial-refunds',
    description: 'several partial refunds succeed and add up',
    async run(a, p) {
      const ref = await authorized(a, p, this.name, true);
      const quarter = amountOf(p) / 4;
      const r1 = newReference('rf1');
      const r2 = newReference('rf2');
      expectProcessed(await a.refund({ reference: ref, refundReference: r1, amount: { amount: quarter, currency: p.currency }, ...creds(p) }), 'first partial refund');
      const second = expectProcessed(await a.refund({ reference: ref, refundReference: r2, amount: { amount: quarter, currency: p.currency }, ...creds(p) }), 'second partial refund');
      expectAmount(second, 'amountRefunded', 2 * quarter, 'second partial refund');
      expectProcessed(await a.status({ reference: ref, refundReference: r1, ...creds(p) }), 'status of the first refund');
      const s = expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'payment status after refunds');
      expectAmount(s, 'amountRefunded', 2 * quarter, 'payment status after refunds');
    },
  },
  {
    name: 'full-refund',
    description: 'the whole captured amount can be refunded',
    async run(a, p) {
      const ref = await authorized(a, p, this.name, true);
      const r = expectProcessed(await a.refund({ reference: ref, refundReference: newReference('rf'), amount: { amount: amountOf(p), currency: p.currency }, ...creds(p) }), 'full refund');
      expectAmount(r, 'amountRefunded', amountOf(p), 'full refund');
      const s = expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after full refund');
      expectAmount(s, 'amountRefunded', amountOf(p), 'status after full refund');
    },
  },
  {
    name: 'refund-above-captured-refused',
    description: 'refunds never exceed the captured amount, alone or added up',
    async run(a, p) {
      const ref = await authorized(a, p, this.name);
      const half = amountOf(p) / 2;
      expectProcessed(await a.capture({ reference: ref, amount: { amount: half, currency: p.currency }, ...creds(p) }), 'partial capture', 'captured');
      const over = newReference('rf');
      expectDeclined(await a.refund({ reference: ref, refundReference: over, amount: { amount: half + 1, currency: p.currency }, ...creds(p) }),
        'refund above the captured amount', p.refundAboveCapturedReason);
      expectProcessed(await a.refund({ reference: ref, refundReference: newReference('rf'), amount: { amount: half, currency: p.currency }, ...creds(p) }),
        'refund of exactly the captured amount after a refused one');
      expectDeclined(await a.refund({ reference: ref, refundReference: newReference('rf'), amount: { amount: 1, currency: p.currency }, ...creds(p) }),
        'refund beyond the captured amount in total', p.refundAboveCapturedReason);
      const s = expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after refunds');
      expectAmount(s, 'amountRefunded', half, 'status after refunds');
    },
  },
  {
    name: 'refund-reference-once',
    description: 'a refund retried with the same refundReference is made once',
    async run(a, p) {
      const ref = await authorized(a, p, this.name, true);
      const quarter = amountOf(p) / 4;
      const rr = newReference('rf');
      const req = { reference: ref, refundReference: rr, amount: { amount: quarter, currency: p.currency }, ...creds(p) };
      expectProcessed(await a.refund(req), 'refund');
      expectProcessed(await a.refund(req), 'the same refund retried');
      const s = expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after the retried refund');
      if (s.amountRefunded !== undefined && s.amountRefunded !== quarter) {
        fail(`a retried refund was made twice: the bank reports ${s.amountRefunded} refunded, expected ${quarter}`);
      }
    },
  },
  {
    name: 'duplicate-authorize-charges-once',
    description: 'an authorize retried with the same reference replays the first answer and charges once',
    async run(a, p) {
      const ref = newReference(this.name);
      const before = await bankOps(a, p);
      const req = authReq(p, ref, p.cards.approve);
      const first = expectProcessed(await a.authorize(req), 'authorize', 'authorized');
      const second = expectProcessed(await a.authorize(req), 'the same authorize retried', 'authorized');
      if (before) {
        const after = (await bankOps(a, p))!;
        const fresh = after.slice(before.length).filter((o) => o.kind === 'authorize' && o.approved !== false);
        if (fresh.length !== 1) {
          fail(`charged twice: the bank recorded ${fresh.length} approved authorizations for one payment `
            + `(references ${fresh.map((o) => o.reference).join(', ') || 'none'}); a retry must reuse reference ${ref}`);
        }
        if (fresh[0]!.reference !== ref) fail(`the bank recorded the authorization under "${fresh[0]!.reference}", not the reference "${ref}"`);
      }
      if (first.bankRef !== undefined && second.bankRef !== undefined && first.bankRef !== second.bankRef) {
        fail(`charged twice: the retried authorize created another bank payment (bankRef ${first.bankRef} then ${second.bankRef})`);
      }
      const s = expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after the retried authorize', 'authorized');
      expectAmount(s, 'amountAuthorized', amountOf(p), 'status after the retried authorize');
    },
  },
  {
    name: 'timeout-unknown-resolved-by-status',
    description: 'a lost bank answer is reported as unknown (never declined), and status() then finds the payment',
    applies: (p) => Boolean(p.cards.timeout),
    async run(a, p) {
      const ref = newReference(this.name);
      const r = await a.authorize(authReq(p, ref, p.cards.timeout!, { capture: true }));
      if (r.outcome !== 'unknown') fail(`a lost answer must be reported as unknown, got ${show(r)}`);
      let s: BankResult = { outcome: 'unknown', reason: 'not asked yet' };
      for (let i = 0; i < 20; i++) {
        s = await a.status({ reference: ref, ...creds(p) });
        if (s.outcome !== 'unknown' && s.outcome !== 'pending') break;
        await sleep(100 * (i + 1));
      }
      expectProcessed(s, 'status after the lost answer', 'captured');
    },
  },
  {
    name: 'status-of-unsent-reference',
    description: 'status() of a reference the bank never saw says not_sent (so the hub may mark it failed)',
    async run(a, p) {
      const s = await a.status({ reference: newReference(this.name), ...creds(p) });
      if (s.outcome !== 'not_sent') fail(`expected not_sent for a reference the bank never saw, got ${show(s)}`);
    },
  },
  {
    name: '3ds-challenge-round-trip',
    description: 'the challenge card answers pending with a challenge URL; the right code authorizes; completeChallenge reports it',
    applies: (p) => Boolean(p.cards.challenge && p.completeChallenge),
    async run(a, p) {
      const ref = newReference(this.name);
      const r = await a.authorize(authReq(p, ref, p.cards.challenge!, { returnUrl: RETURN_URL }));
      if (r.outcome !== 'pending' || !r.challenge?.url) fail(`expected pending with a challenge URL, got ${show(r)}`);
      const pending = await a.status({ reference: ref, ...creds(p) });
      if (pending.outcome !== 'pending') fail(`status while the challenge is open must be pending, got ${show(pending)}`);
      await p.completeChallenge!(r.challenge.url, { approve: true, returnUrl: RETURN_URL });
      if (!a.completeChallenge) fail('the adapter has no completeChallenge()');
      const done = await a.completeChallenge({ reference: ref, params: {}, ...creds(p) });
      expectProcessed(done, 'completeChallenge after the right code', 'authorized');
      expectProcessed(await a.status({ reference: ref, ...creds(p) }), 'status after the challenge', 'authorized');
    },
  },
  {
    name: '3ds-challenge-wrong-code',
    description: 'a failed challenge ends declined',
    applies: (p) => Boolean(p.cards.challenge && p.completeChallenge),
    async run(a, p) {
      const ref = newReference(this.name);
      const r = await a.authorize(authReq(p, ref, p.cards.challenge!, { returnUrl: RETURN_URL }));
      if (r.outcome !== 'pending' || !r.challenge?.url) fail(`expected pending with a challenge URL, got ${show(r)}`);
      await p.completeChallenge!(r.challenge.url, { approve: false, returnUrl: RETURN_URL });
      if (!a.completeChallenge) fail('the adapter has no completeChallenge()');
      expectDeclined(await a.completeChallenge({ reference: ref, params: {}, ...creds(p) }), 'completeChallenge after a wrong code');
    },
  },
];

/** Runs one check; never throws. */
export async function runCheck(check: ConformanceCheck, adapter: BankAdapter, profile: BankConformanceProfile): Promise<CheckResult> {
  if (check.applies && !check.applies(profile)) return { name: check.name, status: 'not_applicable' };
  try {
    await check.run(adapter, profile);
    return { name: check.name, status: 'passed' };
  } catch (e) {
    const msg = e instanceof ConformanceFailure ? e.message : `the adapter threw: ${(e as Error)?.stack ?? String(e)}`;
    return { name: check.name, status: 'failed', message: msg };
  }
}

/** Checks the profile itself before running anything. */
export function validateProfile(profile: BankConformanceProfile): string[] {
  const errors: string[] = [];
  const amount = amountOf(profile);
  if (!Number.isSafeInteger(amount) || amount < 100 || amount % 4 !== 0) errors.push('amount must be an integer ≥ 100 divisible by 4');
  if (!/^[A-Z]{3}$/.test(profile.currency)) errors.push('currency must be an ISO 4217 code');
  if (!profile.cards?.approve || !profile.cards?.decline) errors.push('cards.approve and cards.decline are required');
  if (!profile.adapterId) errors.push('adapterId is required');
  return errors;
}

/** Runs every check (or those named in `only`) in order. */
export async function runChecks(adapter: BankAdapter, profile: BankConformanceProfile, opts: { only?: readonly string[] } = {}): Promise<CheckResult[]> {
  const bad = validateProfile(profile);
  if (bad.length) throw new Error(`invalid conformance profile: ${bad.join('; ')}`);
  const out: CheckResult[] = [];
  for (const c of checks) {
    if (opts.only && !opts.only.includes(c.name)) continue;
    out.push(await runCheck(c, adapter, profile));
  }
  return out;
}
