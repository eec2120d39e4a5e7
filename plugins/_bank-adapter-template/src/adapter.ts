/**
 * The bank adapter: flows, URLs, signing. Stateless — the hub persists everything.
 */
import {
  createBankHttpClient, failureResult, hmacSigner,
  type AuthorizeRequest, type BankAdapter, type BankCredentials, type BankResult, type BinInfo, type Money,
} from '@payhub/core';
import { fromPaymentResponse, toPaymentRequest, type ExamplePaymentResponse } from './transformers';

export interface ExampleBankOptions {
  baseUrl: string;
  timeoutMs: number;
  /** Fallback credentials when a merchant has none of its own. */
  terminalId?: string;
  secret?: string;
}

export class ExampleBankAdapter implements BankAdapter {
  readonly id = 'example-bank';
  readonly displayName = 'Example Bank';
  readonly contract = {
    fields: [
      { name: 'terminalId', label: 'Terminal id', required: true },
      { name: 'secret', label: 'Signing secret', required: true, secret: true },
    ],
    documents: ['Merchant agreement'],
  };

  constructor(private readonly opts: ExampleBankOptions) {}

  private client(credentials?: BankCredentials) {
    const terminalId = (credentials?.terminalId as string | undefined) ?? this.opts.terminalId ?? '';
    const secret = (credentials?.secret as string | undefined) ?? this.opts.secret ?? '';
    return createBankHttpClient({ baseUrl: this.opts.baseUrl, timeoutMs: this.opts.timeoutMs, sign: hmacSigner({ secret, keyId: terminalId }) });
  }

  async binLookup(_bin: string): Promise<BinInfo | null> {
    return null; // This bank publishes no BIN service.
  }

  async authorize(req: AuthorizeRequest): Promise<BankResult> {
    if (req.source.type === 'account') return { outcome: 'declined', reason: 'unsupported_source' };
    const r = await this.client(req.credentials).request<ExamplePaymentResponse>('POST', '/payments', toPaymentRequest(req));
    if (r.kind === 'failure') return failureResult(r);
    if (r.status === 200 || r.status === 201) return fromPaymentResponse(r.body);
    return this.refused(r.status, r.body);
  }

  async completeChallenge(req: { reference: string; params: Record<string, string>; credentials?: BankCredentials }): Promise<BankResult> {
    return this.status({ reference: req.reference, ...(req.credentials ? { credentials: req.credentials } : {}) });
  }

  async capture(req: { reference: string; amount: Money; credentials?: BankCredentials }): Promise<BankResult> {
    return this.operation(`/payments/${encodeURIComponent(req.reference)}/capture`, { amount: req.amount.amount, currency: req.amount.currency }, req.credentials);
  }

  async void(req: { reference: string; credentials?: BankCredentials }): Promise<BankResult> {
    return this.operation(`/payments/${encodeURIComponent(req.reference)}/reverse`, {}, req.credentials);
  }

  async refund(req: { reference: string; refundReference: string; amount: Money; credentials?: BankCredentials }): Promise<BankResult> {
    return this.operation(`/payments/${encodeURIComponent(req.reference)}/refunds`,
      { refund_id: req.refundReference, amount: req.amount.amount, currency: req.amount.currency }, req.credentials);
  }

  async status(req: { reference: string; refundReference?: string; credentials?: BankCredentials }): Promise<BankResult> {
    const path = req.refundReference
      ? `/payments/${encodeURIComponent(req.reference)}/refunds/${encodeURIComponent(req.refundReference)}`
      : `/payments/${encodeURIComponent(req.reference)}`;
    const r = await this.client(req.credentials).request<ExamplePaymentResponse>('GET', path);
    // A status query that failed tells nothing about the payment: unknown, never not_sent.
    if (r.kind === 'failure') return failureResult(r, { read: true });
    if (r.status === 404) return { outcome: 'not_sent', reason: 'the bank has no such payment' };
    if (r.status !== 200) return { outcome: 'unknown', reason: `status answered ${r.status}` };
    return fromPaymentResponse(r.body);
  }

  private async operation(path: string, body: unknown, credentials?: BankCredentials): Promise<BankResult> {
    const r = await this.client(credentials).request<ExamplePaymentResponse>('POST', path, body);
    if (r.kind === 'failure') return failureResult(r);
    if (r.status === 200 || r.status === 201) return fromPaymentResponse(r.body);
    return this.refused(r.status, r.body);
  }

  /** A 4xx: the bank refused this request; nothing happened. */
  private refused(status: number, body: unknown): BankResult {
    const code = (body as { error?: string } | null)?.error ?? `http_${status}`;
    if (status === 401 || status === 403) return { outcome: 'not_sent', reason: `bank refused the credentials (${code})` };
    return { outcome: 'declined', reason: code };
  }
}
