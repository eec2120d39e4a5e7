/** QIWI P2P / Checkout bills API client (providers.md §4.1): Bearer secret key, JSON. */

export type ApiResult =
  | { kind: 'ok'; status: number; body: Record<string, unknown> }
  | { kind: 'http'; status: number; errorCode?: string; body: unknown }
  | { kind: 'network'; error: string };

export interface QiwiBill {
  siteId: string;
  billId: string;
  amount: { value: string; currency: string };
  status: { value: string; changedDateTime?: string };
  payUrl?: string;
  expirationDateTime?: string;
}

export class QiwiClient {
  constructor(private readonly apiBase: string, private readonly secretKey: string, private readonly timeoutMs: number) {}

  private url(path: string): string {
    return `${this.apiBase.replace(/\/$/, '')}/partner/bill/v1/bills/${path}`;
  }

  async call(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<ApiResult> {
    let r: Response;
    try {
      r = await fetch(this.url(path), {
        method,
        headers: {
          authorization: `Bearer ${this.secretKey}`, accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      return { kind: 'network', error: (e as Error).name === 'TimeoutError' ? 'timeout' : 'network_error' };
    }
    const text = await r.text().catch(() => '');
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (r.ok && parsed && typeof parsed === 'object') return { kind: 'ok', status: r.status, body: parsed as Record<string, unknown> };
    const errorCode = (parsed as { errorCode?: unknown } | null)?.errorCode;
    return { kind: 'http', status: r.status, errorCode: typeof errorCode === 'string' ? errorCode : undefined, body: parsed };
  }

  putBill(billId: string, body: unknown) { return this.call('PUT', encodeURIComponent(billId), body); }
  getBill(billId: string) { return this.call('GET', encodeURIComponent(billId)); }
  reject(billId: string) { return this.call('POST', `${encodeURIComponent(billId)}/reject`); }
  putRefund(billId: string, refundId: string, body: unknown) { return this.call('PUT', `${encodeURIComponent(billId)}/refunds/${encodeURIComponent(refundId)}`, body); }
  getRefund(billId: string, refundId: string) { return this.call('GET', `${encodeURIComponent(billId)}/refunds/${encodeURIComponent(refundId)}`); }
}
