/**
 * The sandbox bank's logic and ledger, without any transport. The HTTP server (server.ts) and the in-process
 * transport of the adapter both call {@link SandboxBank.handleApi}.
 *
 * Invariants kept here:
 * - one payment per `reference`: a repeated authorize replays the first answer and never charges twice;
 * - one refund per `refundReference`; refunds never exceed the captured amount;
 * - funds (card or personal account) are only moved under a per-account lock, so balances never go negative.
 */
import crypto from 'node:crypto';
import { isKnownCurrency, isValidAmount, isLuhnValid, isExpiryInFuture, maskPan } from '@payhub/core';
import { KeyedMutex } from './mutex';
import { brandOf, cardBehaviour, lookupBin, openingCardBalance } from './cards';
import type {
  LedgerOperation, WireAccount, WireAuthorizeRequest, WireError, WireOperationAnswer, WirePayment, WireRefund,
  WireRefundAnswer,
} from './wire';

/** The right code on the 3-D Secure page. */
export const CHALLENGE_CODE = '123456';
/** How long a 3-D Secure challenge stays open. */
export const CHALLENGE_TTL_MS = 15 * 60 * 1000;

export interface ApiRequest {
  method: string;
  /** Path without the `/api` prefix and without query, e.g. `/v1/authorize`. */
  path: string;
  body: unknown;
  merchantId?: string;
  terminalId?: string;
}

export interface ApiAnswer {
  status: number;
  body: unknown;
  /** The bank did its work but must not deliver this answer in time (lost-answer test card). */
  hold?: boolean;
}

interface Funds {
  key: string;
  /** Masked PAN or account number, for the ledger. */
  label: string;
  kind: 'card' | 'account';
}

interface PaymentRecord {
  view: WirePayment;
  merchantId: string;
  terminalId: string;
  funds: Funds;
  fingerprint: string;
  returnUrl?: string;
  capture: boolean;
  description?: string;
  refunds: Map<string, WireRefund & { fingerprint: string }>;
  /** Authorize calls answered from the stored record. */
  replays: number;
  /** The bank asked for 3-D Secure on this payment. */
  challenged: boolean;
}

type AccountRecord = WireAccount;

export interface SandboxBankOptions {
  /** Public base URL of the emulator (for challenge pages), known once it listens. */
  publicUrl: () => string;
  now?: () => Date;
  /** Artificial processing time inside the per-account lock, in ms (makes races observable). */
  latencyMs?: number;
}

class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
  toBody(): WireError {
    return { error: this.code, message: this.message, ...(this.field ? { field: this.field } : {}) };
  }
}

const REFERENCE_RE = /^[A-Za-z0-9_.:\-]{1,255}$/;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function hashPan(pan: string): string {
  return crypto.createHash('sha256').update(`sandbox-bank:${pan}`).digest('hex').slice(0, 32);
}

function randomDigits(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += String(crypto.randomInt(10));
  return s;
}

export class SandboxBank {
  private readonly payments = new Map<string, PaymentRecord>();
  private readonly accounts = new Map<string, AccountRecord>();
  /** Card balances: funds key → currency → minor units. */
  private readonly cardBalances = new Map<string, Map<string, number>>();
  private readonly ledgerOps: LedgerOperation[] = [];
  private readonly locks = new KeyedMutex();
  private readonly now: () => Date;
  private seq = 0;

  constructor(private readonly opts: SandboxBankOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /* ---------------------------------------------------------------- API router (signed part) */

  /** Routes one bank API call. Never throws: errors become 4xx answers. */
  async handleApi(req: ApiRequest): Promise<ApiAnswer> {
    try {
      return await this.route(req);
    } catch (e) {
      if (e instanceof ApiError) return { status: e.status, body: e.toBody() };
      return { status: 500, body: { error: 'internal', message: 'internal error' } };
    }
  }

  private async route(req: ApiRequest): Promise<ApiAnswer> {
    const m = req.method.toUpperCase();
    const parts = req.path.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
    if (parts[0] !== 'v1') throw new ApiError(404, 'not_found', 'no such endpoint');
    const [, a, ref, b, rr] = parts;
    if (m === 'GET' && a === 'ping' && parts.length === 2) return { status: 200, body: { ok: true, terminalId: req.terminalId ?? null } };
    if (m === 'POST' && a === 'authorize' && parts.length === 2) return this.authorize(req);
    if (m === 'GET' && a === 'bins' && ref && parts.length === 3) {
      const info = lookupBin(ref);
      return info ? { status: 200, body: info } : { status: 404, body: { error: 'not_found', message: 'unknown BIN' } };
    }
    if (a === 'payments' && ref) {
      if (m === 'GET' && parts.length === 3) return { status: 200, body: this.requirePayment(ref, req).view };
      if (m === 'POST' && b === 'capture' && parts.length === 4) return { status: 200, body: await this.capture(ref, req) };
      if (m === 'POST' && b === 'void' && parts.length === 4) return { status: 200, body: await this.void(ref, req) };
      if (m === 'POST' && b === 'refunds' && parts.length === 4) return { status: 200, body: await this.refund(ref, req) };
      if (m === 'GET' && b === 'refunds' && rr && parts.length === 5) {
        const p = this.requirePayment(ref, req);
        const refund = p.refunds.get(rr);
        if (!refund) throw new ApiError(404, 'not_found', 'no such refund');
        return { status: 200, body: { refund: stripFingerprint(refund), payment: p.view } };
      }
    }
    throw new ApiError(404, 'not_found', 'no such endpoint');
  }

  /* ---------------------------------------------------------------- operations */

  private async authorize(req: ApiRequest): Promise<ApiAnswer> {
    const body = parseAuthorize(req.body);
    const funds = this.fundsOf(body);
    const fingerprint = crypto.createHash('sha256')
      .update(JSON.stringify([body.amount, body.currency, body.capture, funds.key, req.merchantId ?? '']))
      .digest('hex');
    return this.locks.run(`ref:${body.reference}`, async () => {
      const existing = this.payments.get(body.reference);
      if (existing) {
        if (existing.fingerprint !== fingerprint) {
          throw new ApiError(409, 'reference_conflict', 'another payment already uses this reference');
        }
        existing.replays++;
        this.expireChallenge(existing);
        return { status: 200, body: existing.view };
      }
      const nowIso = this.now().toISOString();
      const view: WirePayment = {
        reference: body.reference,
        bankRef: `sbx_${crypto.randomBytes(9).toString('hex')}`,
        status: 'declined',
        amount: body.amount,
        currency: body.currency,
        authorized: 0,
        captured: 0,
        refunded: 0,
        source: body.source.type === 'card'
          ? { type: 'card', maskedPan: maskPan(body.source.number), ...(brandOf(body.source.number) ? { brand: brandOf(body.source.number)! } : {}) }
          : { type: 'account', accountNumber: body.source.accountNumber },
        createdAt: nowIso,
      };
      const record: PaymentRecord = {
        view, merchantId: req.merchantId ?? '', terminalId: req.terminalId ?? '', funds, fingerprint,
        capture: body.capture, refunds: new Map(), replays: 0, challenged: false,
        ...(body.returnUrl ? { returnUrl: body.returnUrl } : {}),
        ...(body.description ? { description: body.description } : {}),
      };
      let hold = false;
      const behaviour = body.source.type === 'card' ? this.cardCheck(body) : { kind: 'approve' as const };
      if (behaviour.kind === 'decline') {
        this.decline(record, behaviour.reason);
      } else if (behaviour.kind === 'challenge') {
        view.status = 'challenge_required';
        record.challenged = true;
        view.challengeUrl = `${this.opts.publicUrl()}/3ds/${encodeURIComponent(body.reference)}`;
        view.challengeExpiresAt = new Date(this.now().getTime() + CHALLENGE_TTL_MS).toISOString();
        this.record({ kind: 'challenge', reference: body.reference, amount: body.amount, currency: body.currency, approved: true, funds: funds.label });
      } else {
        await this.approveFunds(record);
        hold = behaviour.kind === 'lost_answer';
      }
      this.payments.set(body.reference, record);
      return { status: 200, body: view, ...(hold ? { hold: true } : {}) };
    });
  }

  /** Card checks the bank makes before touching funds. */
  private cardCheck(body: WireAuthorizeRequest): ReturnType<typeof cardBehaviour> {
    if (body.source.type !== 'card') return { kind: 'approve' };
    const s = body.source;
    if (!isLuhnValid(s.number)) return { kind: 'decline', reason: 'invalid_card_number' };
    if (!isExpiryInFuture(s.expMonth, s.expYear, this.now())) return { kind: 'decline', reason: 'expired_card' };
    return cardBehaviour(s.number);
  }

  /** Holds (or takes, for a one-stage payment) the amount from the funding account, or declines. */
  private async approveFunds(record: PaymentRecord): Promise<void> {
    const v = record.view;
    await this.locks.run(`funds:${record.funds.key}`, async () => {
      const reason = this.checkFunds(record.funds, v.amount, v.currency);
      if (this.opts.latencyMs) await sleep(this.opts.latencyMs);
      if (reason) {
        this.decline(record, reason);
        return;
      }
      this.moveFunds(record.funds, v.currency, -v.amount);
      v.authorized = v.amount;
      v.authCode = randomDigits(6);
      if (record.capture) {
        v.captured = v.amount;
        v.status = 'captured';
      } else {
        v.status = 'authorized';
      }
      delete v.challengeUrl;
      delete v.challengeExpiresAt;
      this.record({ kind: 'authorize', reference: v.reference, amount: v.amount, currency: v.currency, approved: true, funds: record.funds.label });
      if (record.capture) {
        this.record({ kind: 'capture', reference: v.reference, amount: v.amount, currency: v.currency, approved: true, funds: record.funds.label });
      }
    });
  }

  private decline(record: PaymentRecord, reason: string): void {
    const v = record.view;
    v.status = 'declined';
    v.declineReason = reason;
    delete v.challengeUrl;
    delete v.challengeExpiresAt;
    this.record({ kind: 'authorize', reference: v.reference, amount: v.amount, currency: v.currency, approved: false, reason, funds: record.funds.label });
  }

  private async capture(ref: string, req: ApiRequest): Promise<WireOperationAnswer> {
    const { amount, currency } = parseMoney(req.body);
    return this.locks.run(`ref:${ref}`, async () => {
      const p = this.requirePayment(ref, req);
      const v = p.view;
      const refuse = (reason: string): WireOperationAnswer => {
        this.record({ kind: 'capture', reference: ref, amount, currency, approved: false, reason, funds: p.funds.label });
        return { approved: false, reason, payment: v };
      };
      if (currency !== v.currency) return refuse('currency_mismatch');
      if (v.status === 'captured' || v.status === 'partially_refunded' || v.status === 'refunded') {
        // A retried capture of the same amount is the same capture: answer it again.
        if (amount === v.captured) return { approved: true, payment: v };
        return refuse('already_captured');
      }
      if (v.status !== 'authorized') return refuse(v.status === 'voided' ? 'already_voided' : 'invalid_state');
      if (amount > v.authorized) return refuse('amount_exceeds_authorized');
      await this.locks.run(`funds:${p.funds.key}`, () => {
        // Partial capture: the rest of the hold goes back to the buyer.
        this.moveFunds(p.funds, v.currency, v.authorized - amount);
      });
      v.captured = amount;
      v.status = 'captured';
      this.record({ kind: 'capture', reference: ref, amount, currency, approved: true, funds: p.funds.label });
      return { approved: true, payment: v };
    });
  }

  private async void(ref: string, req: ApiRequest): Promise<WireOperationAnswer> {
    return this.locks.run(`ref:${ref}`, async () => {
      const p = this.requirePayment(ref, req);
      const v = p.view;
      const refuse = (reason: string): WireOperationAnswer => {
        this.record({ kind: 'void', reference: ref, amount: v.authorized, currency: v.currency, approved: false, reason, funds: p.funds.label });
        return { approved: false, reason, payment: v };
      };
      if (v.status === 'voided') return { approved: true, payment: v };
      if (v.status === 'captured' || v.status === 'partially_refunded' || v.status === 'refunded') return refuse('already_captured');
      if (v.status !== 'authorized') return refuse('invalid_state');
      await this.locks.run(`funds:${p.funds.key}`, () => {
        this.moveFunds(p.funds, v.currency, v.authorized);
      });
      v.status = 'voided';
      this.record({ kind: 'void', reference: ref, amount: v.authorized, currency: v.currency, approved: true, funds: p.funds.label });
      return { approved: true, payment: v };
    });
  }

  private async refund(ref: string, req: ApiRequest): Promise<WireRefundAnswer> {
    const { amount, currency } = parseMoney(req.body);
    const rr = (req.body as { refundReference?: unknown }).refundReference;
    if (typeof rr !== 'string' || !REFERENCE_RE.test(rr)) throw new ApiError(422, 'invalid_request', 'refundReference must be 1-255 characters [A-Za-z0-9_.:-]', 'refundReference');
    const fingerprint = `${amount}:${currency}`;
    return this.locks.run(`ref:${ref}`, async () => {
      const p = this.requirePayment(ref, req);
      const v = p.view;
      const existing = p.refunds.get(rr);
      if (existing) {
        if (existing.fingerprint !== fingerprint) throw new ApiError(409, 'reference_conflict', 'another refund already uses this refundReference');
        return { approved: existing.status === 'succeeded', ...(existing.reason ? { reason: existing.reason } : {}), refund: stripFingerprint(existing), payment: v };
      }
      let reason: string | undefined;
      if (currency !== v.currency) reason = 'currency_mismatch';
      else if (v.status !== 'captured' && v.status !== 'partially_refunded') reason = v.status === 'refunded' ? 'amount_exceeds_captured' : 'not_captured';
      else if (v.refunded + amount > v.captured) reason = 'amount_exceeds_captured';
      const refund: WireRefund & { fingerprint: string } = {
        refundReference: rr, reference: ref, bankRef: `sbr_${crypto.randomBytes(9).toString('hex')}`,
        amount, currency, status: reason ? 'declined' : 'succeeded', createdAt: this.now().toISOString(), fingerprint,
        ...(reason ? { reason } : {}),
      };
      if (!reason) {
        await this.locks.run(`funds:${p.funds.key}`, () => {
          this.moveFunds(p.funds, v.currency, amount);
        });
        v.refunded += amount;
        v.status = v.refunded === v.captured ? 'refunded' : 'partially_refunded';
      }
      p.refunds.set(rr, refund);
      this.record({
        kind: 'refund', reference: ref, refundReference: rr, amount, currency, approved: !reason,
        ...(reason ? { reason } : {}), funds: p.funds.label,
      });
      return { approved: !reason, ...(reason ? { reason } : {}), refund: stripFingerprint(refund), payment: v };
    });
  }

  /* ---------------------------------------------------------------- 3-D Secure */

  /** What the challenge page shows, or null if there is no such challenge. */
  challengeInfo(ref: string): { payment: WirePayment; open: boolean; returnUrl?: string } | null {
    const p = this.payments.get(ref);
    if (!p || !p.challenged) return null;
    this.expireChallenge(p);
    return { payment: p.view, open: p.view.status === 'challenge_required', ...(p.returnUrl ? { returnUrl: p.returnUrl } : {}) };
  }

  /** The buyer submitted the challenge form. Decides once; later submissions change nothing. */
  async submitChallenge(ref: string, code: string): Promise<{ payment: WirePayment; returnUrl?: string } | null> {
    return this.locks.run(`ref:${ref}`, async () => {
      const info = this.challengeInfo(ref);
      if (!info) return null;
      const p = this.payments.get(ref)!;
      if (info.open) {
        if (code === CHALLENGE_CODE) await this.approveFunds(p);
        else this.decline(p, 'authentication_failed');
      }
      return { payment: p.view, ...(p.returnUrl ? { returnUrl: p.returnUrl } : {}) };
    });
  }

  private expireChallenge(p: PaymentRecord): void {
    const v = p.view;
    if (v.status === 'challenge_required' && v.challengeExpiresAt && this.now().getTime() > Date.parse(v.challengeExpiresAt)) {
      this.decline(p, 'challenge_expired');
    }
  }

  /* ---------------------------------------------------------------- accounts, funds, ledger */

  /** Creates or replaces a personal account (admin API of the emulator). */
  async putAccount(input: unknown): Promise<WireAccount> {
    const b = (input ?? {}) as Record<string, unknown>;
    if (typeof b.accountNumber !== 'string' || !/^[A-Za-z0-9_\-]{1,64}$/.test(b.accountNumber)) {
      throw new ApiError(422, 'invalid_request', 'accountNumber must be 1-64 characters [A-Za-z0-9_-]', 'accountNumber');
    }
    if (typeof b.balance !== 'number' || !Number.isSafeInteger(b.balance) || b.balance < 0) {
      throw new ApiError(422, 'invalid_request', 'balance must be a non-negative integer in minor units', 'balance');
    }
    if (typeof b.currency !== 'string' || !isKnownCurrency(b.currency)) throw new ApiError(422, 'invalid_request', 'unknown currency', 'currency');
    if (b.blocked !== undefined && typeof b.blocked !== 'boolean') throw new ApiError(422, 'invalid_request', 'blocked must be a boolean', 'blocked');
    const accountNumber = b.accountNumber;
    return this.locks.run(`funds:account:${accountNumber}`, () => {
      const acc: AccountRecord = { accountNumber, balance: b.balance as number, currency: b.currency as string, blocked: b.blocked === true };
      this.accounts.set(accountNumber, acc);
      return { ...acc };
    });
  }

  getAccount(accountNumber: string): WireAccount | null {
    const a = this.accounts.get(accountNumber);
    return a ? { ...a } : null;
  }

  /** Every operation the bank performed, in order. */
  ledger(): LedgerOperation[] {
    return this.ledgerOps.map((o) => ({ ...o }));
  }

  /** The bank's full record of one payment (reconciliation). */
  paymentDetails(ref: string): (WirePayment & { refunds: WireRefund[]; replays: number; operations: LedgerOperation[] }) | null {
    const p = this.payments.get(ref);
    if (!p) return null;
    this.expireChallenge(p);
    return {
      ...p.view,
      refunds: [...p.refunds.values()].map(stripFingerprint),
      replays: p.replays,
      operations: this.ledgerOps.filter((o) => o.reference === ref).map((o) => ({ ...o })),
    };
  }

  /** Wraps admin calls so validation errors become answers. */
  async admin(fn: () => Promise<unknown> | unknown, okStatus = 200): Promise<ApiAnswer> {
    try {
      return { status: okStatus, body: await fn() };
    } catch (e) {
      if (e instanceof ApiError) return { status: e.status, body: e.toBody() };
      return { status: 500, body: { error: 'internal', message: 'internal error' } };
    }
  }

  private fundsOf(body: WireAuthorizeRequest): Funds {
    if (body.source.type === 'account') {
      return { key: `account:${body.source.accountNumber}`, label: `account ${body.source.accountNumber}`, kind: 'account' };
    }
    const key = `card:${hashPan(body.source.number)}`;
    if (!this.openingBalances.has(key)) this.openingBalances.set(key, openingCardBalance(body.source.number));
    return { key, label: maskPan(body.source.number), kind: 'card' };
  }

  /** Why the funding account cannot give `amount`, or undefined if it can. Call under the funds lock. */
  private checkFunds(funds: Funds, amount: number, currency: string): string | undefined {
    if (funds.kind === 'account') {
      const acc = this.accounts.get(funds.key.slice('account:'.length));
      if (!acc) return 'account_not_found';
      if (acc.blocked) return 'account_blocked';
      if (acc.currency !== currency) return 'currency_mismatch';
      return acc.balance >= amount ? undefined : 'insufficient_funds';
    }
    return this.cardBalance(funds.key, currency).get(currency)! >= amount ? undefined : 'insufficient_funds';
  }

  private cardBalance(key: string, currency: string): Map<string, number> {
    let m = this.cardBalances.get(key);
    if (!m) {
      m = new Map();
      this.cardBalances.set(key, m);
    }
    if (!m.has(currency)) m.set(currency, this.openingBalances.get(key) ?? 1_000_000_000_000);
    return m;
  }

  /** Opening balance per card, captured at first sight (the PAN itself is not kept). */
  private readonly openingBalances = new Map<string, number>();

  /** Adds `delta` (negative = debit) to the funding account. Call under the funds lock. */
  private moveFunds(funds: Funds, currency: string, delta: number): void {
    if (delta === 0) return;
    if (funds.kind === 'account') {
      const acc = this.accounts.get(funds.key.slice('account:'.length));
      if (!acc) return;
      if (acc.balance + delta < 0) throw new ApiError(500, 'internal', 'overdraft refused');
      acc.balance += delta;
      return;
    }
    const m = this.cardBalance(funds.key, currency);
    const next = m.get(currency)! + delta;
    if (next < 0) throw new ApiError(500, 'internal', 'overdraft refused');
    m.set(currency, next);
  }

  private record(op: Omit<LedgerOperation, 'seq' | 'at'>): void {
    this.ledgerOps.push({ seq: ++this.seq, at: this.now().toISOString(), ...op });
  }

  private requirePayment(ref: string, req: ApiRequest): PaymentRecord {
    const p = this.payments.get(ref);
    // A terminal sees only its own merchant's payments.
    if (!p || (req.merchantId !== undefined && p.merchantId !== '' && p.merchantId !== req.merchantId)) {
      throw new ApiError(404, 'not_found', 'no such payment');
    }
    this.expireChallenge(p);
    return p;
  }
}

function stripFingerprint(r: WireRefund & { fingerprint?: string }): WireRefund {
  const { fingerprint: _f, ...rest } = r;
  return rest;
}

function parseMoney(body: unknown): { amount: number; currency: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (!isValidAmount(b.amount)) throw new ApiError(422, 'invalid_request', 'amount must be a positive integer in minor units', 'amount');
  if (typeof b.currency !== 'string' || !isKnownCurrency(b.currency)) throw new ApiError(422, 'invalid_request', 'unknown currency', 'currency');
  return { amount: b.amount, currency: b.currency };
}

function parseAuthorize(body: unknown): WireAuthorizeRequest {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.reference !== 'string' || !REFERENCE_RE.test(b.reference)) {
    throw new ApiError(422, 'invalid_request', 'reference must be 1-255 characters [A-Za-z0-9_.:-]', 'reference');
  }
  const { amount, currency } = parseMoney(b);
  if (typeof b.capture !== 'boolean') throw new ApiError(422, 'invalid_request', 'capture must be a boolean', 'capture');
  const s = (b.source ?? {}) as Record<string, unknown>;
  let source: WireAuthorizeRequest['source'];
  if (s.type === 'card') {
    if (typeof s.number !== 'string' || !/^\d{12,19}$/.test(s.number)) throw new ApiError(422, 'invalid_request', 'card number must be 12-19 digits', 'source.number');
    if (!Number.isInteger(s.expMonth) || !Number.isInteger(s.expYear)) throw new ApiError(422, 'invalid_request', 'expiry must be integers', 'source.expMonth');
    if (s.cvc !== undefined && (typeof s.cvc !== 'string' || !/^\d{3,4}$/.test(s.cvc))) throw new ApiError(422, 'invalid_request', 'cvc must be 3-4 digits', 'source.cvc');
    source = { type: 'card', number: s.number, expMonth: s.expMonth as number, expYear: s.expYear as number };
  } else if (s.type === 'account') {
    if (typeof s.accountNumber !== 'string' || s.accountNumber.length === 0 || s.accountNumber.length > 64) {
      throw new ApiError(422, 'invalid_request', 'accountNumber must be 1-64 characters', 'source.accountNumber');
    }
    source = { type: 'account', accountNumber: s.accountNumber };
  } else {
    throw new ApiError(422, 'invalid_request', 'source.type must be card or account', 'source.type');
  }
  let returnUrl: string | undefined;
  if (b.returnUrl !== undefined) {
    if (typeof b.returnUrl !== 'string' || !/^https?:\/\//.test(b.returnUrl)) throw new ApiError(422, 'invalid_request', 'returnUrl must be an http(s) URL', 'returnUrl');
    returnUrl = b.returnUrl;
  }
  return {
    reference: b.reference, amount, currency, capture: b.capture, source,
    ...(typeof b.description === 'string' ? { description: b.description.slice(0, 255) } : {}),
    ...(returnUrl ? { returnUrl } : {}),
  };
}
