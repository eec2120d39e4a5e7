/**
 * Helpers for bank-adapter authors: an HTTP JSON client that sorts failures into Kill Bill outcome classes,
 * HMAC request signing and its verifier, a status-mapping table that never invents a success, and the
 * shape of the conformance profile an adapter plugin exports for `npm run conformance`.
 *
 * The rule behind every helper: only an explicit answer of the bank is definite. A request that provably
 * never left this process is `not_sent` (safe to retry); anything that may have reached the bank and came back
 * garbled, late or not at all is `unknown` (ask `status()` later, never retry blindly).
 */
import crypto from 'node:crypto';
import type { BankAdapter, BankCredentials, BankResult } from './payments';
import { safeEqual } from './util';

/* ------------------------------------------------------------------------------------------------------------
 * HTTP JSON client with a hard timeout
 * ---------------------------------------------------------------------------------------------------------- */

/** What a signer is given: exactly the bytes that go on the wire. */
export interface BankRequestToSign {
  /** Upper-case HTTP method. */
  readonly method: string;
  /** Path plus query string, e.g. `/v1/payments/att_1?x=1`. */
  readonly path: string;
  /** Unix seconds, as a decimal string. */
  readonly timestamp: string;
  /** Raw request body ('' when there is none). */
  readonly body: string;
}

/** Produces the headers that authenticate one request (see {@link hmacSigner}). */
export type BankRequestSigner = (req: BankRequestToSign) => Record<string, string>;

export interface BankHttpClientOptions {
  /** Base URL of the bank API, e.g. `https://acquiring.example/api` (no trailing slash needed). */
  readonly baseUrl: string | (() => string);
  /** Hard limit for the whole exchange (connect, send, headers and body), in ms. */
  readonly timeoutMs: number;
  /** Signs each request; its headers are added to the request. */
  readonly sign?: BankRequestSigner;
  /** Headers sent with every request. */
  readonly headers?: Record<string, string>;
  /** Clock used for the signature timestamp (tests move it). */
  readonly now?: () => Date;
  /** Replacement for the global fetch (tests, proxies). */
  readonly fetch?: typeof fetch;
}

/** The bank answered with a parsable body and a status below 500. */
export interface BankHttpAnswer<T = unknown> {
  readonly kind: 'answer';
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** The exchange failed; `outcome` says whether the bank may have acted on it. */
export interface BankHttpFailure {
  readonly kind: 'failure';
  /** `not_sent`: the request provably never reached the bank. `unknown`: it may have. */
  readonly outcome: 'not_sent' | 'unknown';
  /** Short machine-friendly reason (`connection_refused`, `timeout`, `http_503`, `unparsable_body`...). */
  readonly reason: string;
  /** HTTP status, when a response started. */
  readonly status?: number;
}

export type BankHttpResult<T = unknown> = BankHttpAnswer<T> | BankHttpFailure;

/** Socket/DNS error codes that happen before a single byte of the request reached the bank. */
const NOT_SENT_CODES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection_refused',
  ENOTFOUND: 'dns_failure',
  EAI_AGAIN: 'dns_failure',
  EAI_FAIL: 'dns_failure',
  EAI_NONAME: 'dns_failure',
  EHOSTUNREACH: 'host_unreachable',
  ENETUNREACH: 'network_unreachable',
  EADDRNOTAVAIL: 'address_not_available',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  ERR_INVALID_URL: 'invalid_url',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls_certificate_refused',
  CERT_HAS_EXPIRED: 'tls_certificate_refused',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls_certificate_refused',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls_certificate_refused',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls_certificate_refused',
  CERT_NOT_YET_VALID: 'tls_certificate_refused',
};

/**
 * Sorts a thrown fetch error into `not_sent` or `unknown`.
 * A timeout is always `unknown`: once the signal fires we cannot prove the bank did not receive the request.
 * @example classifyFetchError(err) // { outcome: 'not_sent', reason: 'connection_refused' }
 */
export function classifyFetchError(err: unknown): { outcome: 'not_sent' | 'unknown'; reason: string } {
  const e = err as { name?: string; code?: string; message?: string; cause?: unknown };
  if (e?.name === 'TimeoutError') return { outcome: 'unknown', reason: 'timeout' };
  if (e?.name === 'AbortError') return { outcome: 'unknown', reason: 'aborted' };
  // undici wraps the socket error in `cause` (sometimes an AggregateError when several addresses were tried).
  const causes: Array<{ code?: string; message?: string; errors?: unknown[] }> = [];
  const visit = (c: unknown, depth: number): void => {
    if (!c || typeof c !== 'object' || depth > 4) return;
    const x = c as { code?: string; message?: string; errors?: unknown[]; cause?: unknown };
    causes.push(x);
    if (Array.isArray(x.errors)) for (const inner of x.errors) visit(inner, depth + 1);
    visit(x.cause, depth + 1);
  };
  visit(e, 0);
  const codes = causes.map((c) => c.code).filter((c): c is string => typeof c === 'string');
  if (codes.length > 0 && codes.every((c) => c in NOT_SENT_CODES)) {
    return { outcome: 'not_sent', reason: NOT_SENT_CODES[codes[codes.length - 1]!]! };
  }
  // fetch refuses some ports ("bad port") before opening a socket.
  if (causes.some((c) => c.message === 'bad port')) return { outcome: 'not_sent', reason: 'blocked_port' };
  const code = codes.find((c) => !(c in NOT_SENT_CODES));
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return { outcome: 'unknown', reason: 'connection_reset' };
  return { outcome: 'unknown', reason: code ? code.toLowerCase() : 'network_error' };
}

function resolveBase(baseUrl: string | (() => string)): string {
  const b = typeof baseUrl === 'function' ? baseUrl() : baseUrl;
  return b.endsWith('/') ? b.slice(0, -1) : b;
}

/**
 * A JSON client for one bank API. Every call is bounded by `timeoutMs` (AbortSignal.timeout) and never throws:
 * it returns the bank's answer (status < 500, JSON body) or a failure classified the Kill Bill way:
 * - connection refused, DNS failure, bad URL (nothing sent) → `not_sent`;
 * - timeout after sending, socket reset, 5xx, unparsable body → `unknown`.
 * @example
 * const bank = createBankHttpClient({ baseUrl: 'https://bank.example/api', timeoutMs: 5000, sign: hmacSigner({ secret }) });
 * const r = await bank.request('POST', '/v1/authorize', { reference, amount: 1000, currency: 'RUB' });
 * if (r.kind === 'failure') return { outcome: r.outcome, reason: r.reason };
 */
export function createBankHttpClient(opts: BankHttpClientOptions) {
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? (() => new Date());
  return {
    /** Sends one JSON request; `body` undefined sends no body. */
    async request<T = unknown>(method: string, path: string, body?: unknown, extraHeaders?: Record<string, string>): Promise<BankHttpResult<T>> {
      const m = method.toUpperCase();
      let url: string;
      try {
        url = resolveBase(opts.baseUrl) + path;
        new URL(url);
      } catch {
        return { kind: 'failure', outcome: 'not_sent', reason: 'invalid_url' };
      }
      const raw = body === undefined ? '' : JSON.stringify(body);
      const headers: Record<string, string> = { accept: 'application/json', ...opts.headers, ...extraHeaders };
      if (body !== undefined) headers['content-type'] = 'application/json';
      if (opts.sign) {
        const timestamp = String(Math.floor(now().getTime() / 1000));
        Object.assign(headers, opts.sign({ method: m, path, timestamp, body: raw }));
      }
      const signal = AbortSignal.timeout(opts.timeoutMs);
      let res: Response;
      try {
        res = await doFetch(url, { method: m, headers, body: body === undefined ? undefined : raw, signal, redirect: 'manual' });
      } catch (e) {
        const c = classifyFetchError(e);
        return { kind: 'failure', ...c };
      }
      let text: string;
      try {
        text = await res.text();
      } catch (e) {
        const c = classifyFetchError(e);
        // The response had started: whatever the cause, the bank did see the request.
        return { kind: 'failure', outcome: 'unknown', reason: c.reason, status: res.status };
      }
      if (res.status >= 500) return { kind: 'failure', outcome: 'unknown', reason: `http_${res.status}`, status: res.status };
      let parsed: unknown;
      try {
        parsed = text === '' ? null : JSON.parse(text);
      } catch {
        return { kind: 'failure', outcome: 'unknown', reason: 'unparsable_body', status: res.status };
      }
      if (res.status >= 300 && res.status < 400) {
        return { kind: 'failure', outcome: 'unknown', reason: `http_${res.status}`, status: res.status };
      }
      return { kind: 'answer', status: res.status, body: parsed as T, headers: res.headers };
    },
  };
}

export type BankHttpClient = ReturnType<typeof createBankHttpClient>;

/**
 * The {@link BankResult} for a failed exchange. For a state-changing call (authorize, capture, void, refund) the
 * client's classification stands. For a status query (`read: true`) every failure is `unknown`: a query that was
 * never sent says nothing about the payment, and `not_sent` from status() would tell the hub that the bank never saw
 * the payment.
 * @example if (r.kind === 'failure') return failureResult(r, { read: true });
 */
export function failureResult(f: Pick<BankHttpFailure, 'outcome' | 'reason'>, opts: { read?: boolean } = {}): BankResult {
  if (opts.read) return { outcome: 'unknown', reason: `status query failed: ${f.reason}` };
  return { outcome: f.outcome, reason: f.reason };
}

/* ------------------------------------------------------------------------------------------------------------
 * HMAC request signing
 * ---------------------------------------------------------------------------------------------------------- */

/** The exact string that is signed: `METHOD\npath\ntimestamp\nbody`. */
export function canonicalRequest(req: BankRequestToSign): string {
  return `${req.method.toUpperCase()}\n${req.path}\n${req.timestamp}\n${req.body}`;
}

/**
 * HMAC-SHA256 (hex, lower case) of {@link canonicalRequest}.
 * @example signRequest('s3cret', { method: 'POST', path: '/v1/authorize', timestamp: '1700000000', body: '{}' })
 */
export function signRequest(secret: string, req: BankRequestToSign): string {
  return crypto.createHmac('sha256', secret).update(canonicalRequest(req), 'utf8').digest('hex');
}

export interface VerifyRequestOptions {
  /** Largest accepted distance between the timestamp and now, in seconds (default 300). */
  readonly toleranceSec?: number;
  readonly now?: Date;
}

export type VerifyRequestResult = { ok: true } | { ok: false; reason: 'missing' | 'bad_timestamp' | 'stale' | 'bad_signature' };

/**
 * Verifies a signature made by {@link signRequest}: timestamp within the tolerance, then a constant-time comparison
 * of the hex digests (on the received value, not a re-encoding of it).
 */
export function verifyRequestSignature(
  secret: string,
  req: BankRequestToSign & { readonly signature: string | undefined | null },
  opts: VerifyRequestOptions = {},
): VerifyRequestResult {
  if (!req.signature || !req.timestamp) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(req.timestamp)) return { ok: false, reason: 'bad_timestamp' };
  const tolerance = opts.toleranceSec ?? 300;
  const nowSec = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  if (Math.abs(nowSec - Number(req.timestamp)) > tolerance) return { ok: false, reason: 'stale' };
  const expected = signRequest(secret, req);
  return safeEqual(expected, req.signature.toLowerCase()) ? { ok: true } : { ok: false, reason: 'bad_signature' };
}

/** Default header names used by {@link hmacSigner}. */
export const SIGNATURE_HEADERS = Object.freeze({
  keyId: 'x-key-id',
  timestamp: 'x-timestamp',
  signature: 'x-signature',
});

/**
 * A {@link BankRequestSigner} that sends `x-key-id`, `x-timestamp` and `x-signature` (names overridable).
 * @example createBankHttpClient({ baseUrl, timeoutMs, sign: hmacSigner({ secret, keyId: terminalId }) })
 */
export function hmacSigner(opts: {
  secret: string | (() => string);
  keyId?: string | (() => string | undefined);
  headers?: Partial<Record<keyof typeof SIGNATURE_HEADERS, string>>;
}): BankRequestSigner {
  const names: Record<keyof typeof SIGNATURE_HEADERS, string> = { ...SIGNATURE_HEADERS, ...opts.headers };
  return (req) => {
    const secret = typeof opts.secret === 'function' ? opts.secret() : opts.secret;
    const keyId = typeof opts.keyId === 'function' ? opts.keyId() : opts.keyId;
    const out: Record<string, string> = {
      [names.timestamp]: req.timestamp,
      [names.signature]: signRequest(secret, req),
    };
    if (keyId) out[names.keyId] = keyId;
    return out;
  };
}

/* ------------------------------------------------------------------------------------------------------------
 * Status mapping
 * ---------------------------------------------------------------------------------------------------------- */

/** What a bank status string means for us. Only the first five are definite. */
export type BankStatusClass = 'authorized' | 'captured' | 'voided' | 'refunded' | 'declined' | 'pending' | 'unknown';

/**
 * Builds a mapper from a bank's status strings to {@link BankStatusClass}. Matching is case-insensitive.
 * A status the table does not list maps to `fallback` (default `pending`); a missing or non-string status maps to
 * `unknown`. Nothing is ever a success or a decline unless the table says so for that exact string.
 * @example
 * const map = createStatusMap({ APPROVED: 'authorized', SETTLED: 'captured', REJECTED: 'declined' });
 * map('approved') === 'authorized'; map('IN_REVIEW') === 'pending'; map(undefined) === 'unknown'
 */
export function createStatusMap(
  table: Readonly<Record<string, BankStatusClass>>,
  opts: { fallback?: 'pending' | 'unknown' } = {},
): (status: unknown) => BankStatusClass {
  const lower = new Map<string, BankStatusClass>();
  for (const [k, v] of Object.entries(table)) lower.set(k.toLowerCase(), v);
  const fallback = opts.fallback ?? 'pending';
  return (status) => {
    if (typeof status !== 'string' || status.trim() === '') return 'unknown';
    return lower.get(status.trim().toLowerCase()) ?? fallback;
  };
}

/**
 * Turns a mapped status into a {@link BankResult}. `declined` needs a reason (defaults to `declined`);
 * `pending`/`unknown` keep the bank's raw status in the reason so an operator can see it.
 */
export function bankResultFromStatus(
  cls: BankStatusClass,
  extra: {
    bankRef?: string; authCode?: string; reason?: string; message?: string; rawStatus?: string;
    amountAuthorized?: number; amountCaptured?: number; amountRefunded?: number;
    challenge?: { url: string; expiresAt?: string };
  } = {},
): BankResult {
  switch (cls) {
    case 'authorized':
    case 'captured':
    case 'voided':
    case 'refunded': {
      const r: Extract<BankResult, { outcome: 'processed' }> = { outcome: 'processed', state: cls };
      if (extra.bankRef !== undefined) r.bankRef = extra.bankRef;
      if (extra.authCode !== undefined) r.authCode = extra.authCode;
      if (extra.amountAuthorized !== undefined) r.amountAuthorized = extra.amountAuthorized;
      if (extra.amountCaptured !== undefined) r.amountCaptured = extra.amountCaptured;
      if (extra.amountRefunded !== undefined) r.amountRefunded = extra.amountRefunded;
      return r;
    }
    case 'declined':
      return {
        outcome: 'declined', reason: extra.reason || 'declined',
        ...(extra.message !== undefined ? { message: extra.message } : {}),
        ...(extra.bankRef !== undefined ? { bankRef: extra.bankRef } : {}),
      };
    case 'pending':
      return {
        outcome: 'pending',
        ...(extra.challenge ? { challenge: extra.challenge } : {}),
        ...(extra.bankRef !== undefined ? { bankRef: extra.bankRef } : {}),
      };
    case 'unknown':
    default:
      return { outcome: 'unknown', reason: extra.reason ?? (extra.rawStatus ? `bank status ${extra.rawStatus}` : 'unrecognised bank answer') };
  }
}

/* ------------------------------------------------------------------------------------------------------------
 * Small card helpers
 * ---------------------------------------------------------------------------------------------------------- */

/** Luhn (mod 10) check of a card number made of 12 to 19 digits. */
export function isLuhnValid(pan: string): boolean {
  if (!/^\d{12,19}$/.test(pan)) return false;
  let sum = 0;
  for (let i = 0; i < pan.length; i++) {
    let d = pan.charCodeAt(pan.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** True when the card's expiry month (1-12) of `expYear` has not ended at `now` (UTC). */
export function isExpiryInFuture(expMonth: number, expYear: number, now: Date = new Date()): boolean {
  if (!Number.isInteger(expMonth) || expMonth < 1 || expMonth > 12 || !Number.isInteger(expYear)) return false;
  const year = expYear < 100 ? 2000 + expYear : expYear;
  const endOfMonth = Date.UTC(year, expMonth, 1); // first instant after the expiry month
  return now.getTime() < endOfMonth;
}

/* ------------------------------------------------------------------------------------------------------------
 * Conformance profile (exported by adapter plugins as `conformance`)
 * ---------------------------------------------------------------------------------------------------------- */

/** One operation as the bank itself recorded it (for checks that count charges). */
export interface BankOperationView {
  readonly kind: 'authorize' | 'capture' | 'void' | 'refund' | string;
  /** The reference the bank recorded (our attempt id as it reached the bank). */
  readonly reference: string;
  readonly amount?: number;
  readonly currency?: string;
  /** Whether the bank approved it. */
  readonly approved?: boolean;
}

/**
 * What an adapter's author supplies so the conformance kit (test/conformance) can drive the adapter.
 * Export it from the plugin's entry as `export const conformance: BankConformanceProfile = {...}`.
 */
export interface BankConformanceProfile {
  /** Id of the adapter under test (the plugin may register several). */
  readonly adapterId: string;
  /** Currency used by every check. */
  readonly currency: string;
  /** Amount of each test payment in minor units (default 10000); must be ≥ 100 and divisible by 4. */
  readonly amount?: number;
  /** Options the runner passes to the plugin (e.g. a short `timeoutMs` so the timeout check runs quickly). */
  readonly pluginOptions?: Record<string, unknown>;
  /** Credentials passed with every call (test terminal). */
  readonly credentials?: BankCredentials;
  readonly cards: {
    readonly expMonth: number;
    readonly expYear: number;
    readonly cvc?: string;
    /** Approved. */
    readonly approve: string;
    /** Declined; `declineReason` is the reason the adapter must report. */
    readonly decline: string;
    readonly declineReason?: string;
    /** Answers with a 3-D Secure challenge. */
    readonly challenge?: string;
    /** Approved by the bank but the answer never arrives in time. */
    readonly timeout?: string;
  };
  /** Reason the adapter reports for a refund above the captured amount, if the bank gives a specific one. */
  readonly refundAboveCapturedReason?: string;
  /**
   * Acts as the buyer on the challenge page: `approve` true enters the right code, false a wrong one.
   * Must resolve once the bank has sent the buyer back to `returnUrl` (and reject otherwise).
   */
  completeChallenge?(url: string, opts: { approve: boolean; returnUrl: string }): Promise<void>;
  /** The bank's own ledger, for checks that verify "charged once" beyond what the adapter says. */
  bankOperations?(adapter: BankAdapter): Promise<readonly BankOperationView[]>;
}
