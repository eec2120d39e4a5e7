/**
 * The BankAdapter of the sandbox bank. Talks to the emulator over HTTP (signed requests, hard timeout) or, with
 * transport 'inproc', calls the emulator's logic directly (benchmarks: no sockets, same answers).
 *
 * Mapping rules (Kill Bill classes): only an explicit answer is definite. Refused connection → not_sent;
 * timeout, reset, 5xx, garbage → unknown; a 401 (signature refused) on a state-changing call → not_sent (the bank
 * acted on nothing), on status() → unknown (we learnt nothing about the payment).
 */
import {
  createBankHttpClient, hmacSigner, createStatusMap, bankResultFromStatus, failureResult,
  type AuthorizeRequest, type BankAdapter, type BankCredentials, type BankHttpResult, type BankResult, type BinInfo,
  type Money,
} from '@payhub/core';
import type { SandboxBank } from './bank';
import { SANDBOX_HEADERS } from './server';
import type {
  LedgerOperation, WireError, WireOperationAnswer, WirePayment, WireRefund, WireRefundAnswer,
} from './wire';

export interface SandboxBankAdapterOptions {
  /** Emulator base URL (null while it is not started). */
  url: () => string | null;
  timeoutMs: number;
  /** Default terminal credentials; per-merchant `credentials` override them. */
  merchantId: string;
  terminalId: string;
  terminalSecret: string;
  transport: 'http' | 'inproc';
  /** The emulator's logic, for transport 'inproc'. */
  bank?: () => SandboxBank | null;
}

/** The bank's payment statuses, mapped. Anything else is pending (never a success by accident). */
const mapStatus = createStatusMap({
  authorized: 'authorized',
  captured: 'captured',
  partially_refunded: 'captured',
  refunded: 'refunded',
  voided: 'voided',
  declined: 'declined',
  challenge_required: 'pending',
});

export class SandboxBankAdapter implements BankAdapter {
  readonly id = 'sandbox-bank';
  readonly displayName = 'Sandbox Bank';
  readonly contract = Object.freeze({
    fields: Object.freeze([
      { name: 'merchantId', label: 'Merchant id at Sandbox Bank', required: true },
      { name: 'terminalId', label: 'Terminal id', required: true },
      { name: 'secret', label: 'Terminal secret (request signing key)', required: true, secret: true },
    ]),
    documents: Object.freeze(['Certificate of incorporation', 'Bank account details', 'Website terms and refund policy']),
  });

  constructor(private readonly opts: SandboxBankAdapterOptions) {}

  /** Base URL of the emulator this adapter talks to (3-D Secure pages, ledger). */
  emulatorUrl(): string | null {
    return this.opts.url();
  }

  /** The bank's ledger (emulator-only endpoint), for reconciliation in tests. */
  async ledger(): Promise<LedgerOperation[]> {
    const bank = this.opts.transport === 'inproc' ? this.opts.bank?.() : null;
    if (bank) return bank.ledger();
    const url = this.opts.url();
    if (!url) throw new Error('sandbox bank emulator is not running');
    const res = await fetch(`${url}/ledger`, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
    if (!res.ok) throw new Error(`sandbox bank ledger answered ${res.status}`);
    return ((await res.json()) as { operations: LedgerOperation[] }).operations;
  }

  async binLookup(bin: string): Promise<BinInfo | null> {
    const digits = bin.replace(/\D/g, '').slice(0, 8);
    if (digits.length < 6) return null;
    const r = await this.call<BinInfo>('GET', `/v1/bins/${digits}`);
    return r.kind === 'answer' && r.status === 200 ? r.body : null;
  }

  async authorize(req: AuthorizeRequest): Promise<BankResult> {
    const bad = checkMoney(req.amount);
    if (bad) return { outcome: 'not_sent', reason: bad };
    const source = req.source.type === 'card_token'
      ? { type: 'card' as const, number: req.source.number, expMonth: req.source.expMonth, expYear: req.source.expYear }
      : req.source;
    const r = await this.call<WirePayment>('POST', '/v1/authorize', {
      reference: req.reference,
      amount: req.amount.amount,
      currency: req.amount.currency,
      capture: req.capture,
      source,
      ...(req.description ? { description: req.description } : {}),
      ...(req.returnUrl ? { returnUrl: req.returnUrl } : {}),
    }, req.credentials);
    if (r.kind === 'failure') return failure(r);
    if (r.status === 200) return paymentResult(r.body);
    return refusal(r.status, r.body as unknown, 'mutating');
  }

  async completeChallenge(req: { reference: string; params: Record<string, string>; credentials?: BankCredentials }): Promise<BankResult> {
    // The bank decided when the buyer posted the code on its page; we only read where the payment stands.
    return this.status({ reference: req.reference, ...(req.credentials ? { credentials: req.credentials } : {}) });
  }

  async capture(req: { reference: string; amount: Money; credentials?: BankCredentials }): Promise<BankResult> {
    const bad = checkMoney(req.amount);
    if (bad) return { outcome: 'not_sent', reason: bad };
    const r = await this.call<WireOperationAnswer>('POST', `/v1/payments/${enc(req.reference)}/capture`,
      { amount: req.amount.amount, currency: req.amount.currency }, req.credentials);
    if (r.kind === 'failure') return failure(r);
    if (r.status !== 200) return refusal(r.status, r.body as unknown, 'mutating');
    return operationResult(r.body);
  }

  async void(req: { reference: string; credentials?: BankCredentials }): Promise<BankResult> {
    const r = await this.call<WireOperationAnswer>('POST', `/v1/payments/${enc(req.reference)}/void`, {}, req.credentials);
    if (r.kind === 'failure') return failure(r);
    if (r.status !== 200) return refusal(r.status, r.body as unknown, 'mutating');
    return operationResult(r.body);
  }

  async refund(req: { reference: string; refundReference: string; amount: Money; credentials?: BankCredentials }): Promise<BankResult> {
    const bad = checkMoney(req.amount);
    if (bad) return { outcome: 'not_sent', reason: bad };
    const r = await this.call<WireRefundAnswer>('POST', `/v1/payments/${enc(req.reference)}/refunds`,
      { refundReference: req.refundReference, amount: req.amount.amount, currency: req.amount.currency }, req.credentials);
    if (r.kind === 'failure') return failure(r);
    if (r.status !== 200) return refusal(r.status, r.body as unknown, 'mutating');
    return refundResult(r.body.refund, r.body.payment);
  }

  async status(req: { reference: string; refundReference?: string; credentials?: BankCredentials }): Promise<BankResult> {
    if (req.refundReference !== undefined) {
      const r = await this.call<{ refund: WireRefund; payment: WirePayment }>('GET',
        `/v1/payments/${enc(req.reference)}/refunds/${enc(req.refundReference)}`, undefined, req.credentials);
      if (r.kind === 'failure') return failureResult(r, { read: true });
      if (r.status === 404) return { outcome: 'not_sent', reason: 'refund unknown to the bank' };
      if (r.status !== 200) return refusal(r.status, r.body as unknown, 'read');
      return refundResult(r.body.refund, r.body.payment);
    }
    const r = await this.call<WirePayment>('GET', `/v1/payments/${enc(req.reference)}`, undefined, req.credentials);
    if (r.kind === 'failure') return failureResult(r, { read: true });
    // The bank answered definitely that it never saw this reference.
    if (r.status === 404) return { outcome: 'not_sent', reason: 'payment unknown to the bank' };
    if (r.status !== 200) return refusal(r.status, r.body as unknown, 'read');
    return paymentResult(r.body);
  }

  async checkConnection(credentials: BankCredentials): Promise<{ ok: boolean; message?: string }> {
    const r = await this.call<{ ok: boolean }>('GET', '/v1/ping', undefined, credentials);
    if (r.kind === 'failure') return { ok: false, message: `bank unreachable (${r.reason})` };
    if (r.status === 401) return { ok: false, message: 'the bank refused the terminal credentials' };
    return r.status === 200 ? { ok: true } : { ok: false, message: `bank answered ${r.status}` };
  }

  /** One API call over the configured transport. Never throws. */
  private async call<T>(method: string, path: string, body?: unknown, credentials?: BankCredentials): Promise<BankHttpResult<T>> {
    const merchantId = str(credentials?.merchantId) ?? this.opts.merchantId;
    const terminalId = str(credentials?.terminalId) ?? this.opts.terminalId;
    const secret = str(credentials?.secret) ?? this.opts.terminalSecret;
    if (this.opts.transport === 'inproc') {
      const bank = this.opts.bank?.();
      if (!bank) return { kind: 'failure', outcome: 'not_sent', reason: 'emulator_not_running' };
      // In-process there is no signature to check: the caller is the bank's own process.
      const a = await bank.handleApi({ method, path, body: body === undefined ? null : JSON.parse(JSON.stringify(body)), merchantId, terminalId });
      if (a.hold) return { kind: 'failure', outcome: 'unknown', reason: 'timeout' };
      if (a.status >= 500) return { kind: 'failure', outcome: 'unknown', reason: `http_${a.status}`, status: a.status };
      return { kind: 'answer', status: a.status, body: a.body as T, headers: new Headers() };
    }
    const base = this.opts.url();
    if (!base) return { kind: 'failure', outcome: 'not_sent', reason: 'emulator_not_running' };
    const client = createBankHttpClient({
      baseUrl: base,
      timeoutMs: this.opts.timeoutMs,
      headers: { [SANDBOX_HEADERS.merchantId]: merchantId },
      sign: hmacSigner({
        secret,
        keyId: terminalId,
        headers: { keyId: SANDBOX_HEADERS.keyId, timestamp: SANDBOX_HEADERS.timestamp, signature: SANDBOX_HEADERS.signature },
      }),
    });
    return client.request<T>(method, `/api${path}`, body);
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function checkMoney(m: Money): string | undefined {
  if (!Number.isSafeInteger(m.amount) || m.amount <= 0) return 'amount must be a positive integer in minor units';
  if (!/^[A-Z]{3}$/.test(m.currency)) return 'currency must be an ISO 4217 code';
  return undefined;
}

function failure(r: { outcome: 'not_sent' | 'unknown'; reason: string }): BankResult {
  return failureResult(r);
}

/** A 4xx answer: the bank refused the request itself. */
function refusal(status: number, raw: unknown, kind: 'mutating' | 'read'): BankResult {
  const body = raw && typeof raw === 'object' ? raw as Partial<WireError> : null;
  const code = body?.error ?? `http_${status}`;
  if (kind === 'read') return { outcome: 'unknown', reason: `bank refused the status request: ${code}` };
  if (status === 401) return { outcome: 'not_sent', reason: 'bank refused the request signature' };
  if (status === 404) return { outcome: 'declined', reason: 'payment_not_found', message: body?.message ?? 'no such payment' };
  // 409/422: definite refusal of this request; nothing was charged.
  return { outcome: 'declined', reason: code, ...(body?.message ? { message: body.message } : {}) };
}

function paymentResult(p: WirePayment): BankResult {
  const cls = mapStatus(p.status);
  return bankResultFromStatus(cls, {
    bankRef: p.bankRef,
    rawStatus: p.status,
    ...(p.authCode ? { authCode: p.authCode } : {}),
    ...(p.declineReason ? { reason: p.declineReason } : {}),
    amountAuthorized: p.authorized,
    amountCaptured: p.captured,
    amountRefunded: p.refunded,
    ...(p.challengeUrl ? { challenge: { url: p.challengeUrl, ...(p.challengeExpiresAt ? { expiresAt: p.challengeExpiresAt } : {}) } } : {}),
  });
}

function operationResult(a: WireOperationAnswer): BankResult {
  if (!a.approved) return { outcome: 'declined', reason: a.reason ?? 'declined', bankRef: a.payment.bankRef };
  return paymentResult(a.payment);
}

function refundResult(refund: WireRefund, payment: WirePayment): BankResult {
  if (refund.status === 'declined') return { outcome: 'declined', reason: refund.reason ?? 'declined', bankRef: refund.bankRef };
  return {
    outcome: 'processed', state: 'refunded', bankRef: refund.bankRef,
    amountAuthorized: payment.authorized, amountCaptured: payment.captured, amountRefunded: payment.refunded,
  };
}
