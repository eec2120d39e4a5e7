/**
 * QIWI bills emulator (providers.md §4, §6): the bills API with Bearer secret-key auth (PUT/GET bill, reject,
 * refunds), a payUrl page with Pay / Decline, notifications signed with X-Api-Signature-SHA256 that expect
 * {"error":"0"}, and bills expiring past expirationDateTime. Error bodies follow §4.1.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import { emulatorKit } from '@payhub/core';

const { buyerPage, copies, corrupt, deliver, messagePage, send, sendJson, wantsJson } = emulatorKit;
type EmulatedPayment = emulatorKit.EmulatedPayment;
type Switches = emulatorKit.Switches;
import { signBill, type SignedBill } from './signature';

export interface EmulatedSite {
  siteId: string;
  secretKey: string;
  /** Notification URL tied to the key pair. */
  notifyUrl?: string | (() => string);
}

export interface QiwiEmulatorOptions { sites: EmulatedSite[] }

interface Bill {
  siteId: string;
  billId: string;
  amount: { value: string; currency: string };
  status: { value: 'WAITING' | 'PAID' | 'REJECTED' | 'EXPIRED'; changedDateTime: string };
  comment?: string;
  customer?: Record<string, unknown>;
  customFields?: Record<string, unknown>;
  creationDateTime: string;
  expirationDateTime: string;
  payUrl: string;
}

interface QwPayment extends EmulatedPayment {
  bill: Bill;
  refunds: Record<string, { amount: { value: string; currency: string }; datetime: string; refundId: string; status: 'PARTIAL' | 'FULL' }>;
}

const now = () => new Date().toISOString().replace('Z', '+00:00');

function minor(v: string): number | null {
  const m = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(v);
  return m ? Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0')) : null;
}
const major = (n: number) => `${Math.floor(n / 100)}.${String(n % 100).padStart(2, '0')}`;

export class QiwiEmulator extends emulatorKit.ProviderEmulator<QwPayment> {
  private readonly sites = new Map<string, EmulatedSite>();
  /** uid (payment id) by billId; billIds are unique per site here. */
  private readonly byBill = new Map<string, string>();

  constructor(opts: QiwiEmulatorOptions) {
    super('qiwi');
    for (const s of opts.sites) this.sites.set(s.secretKey, s);
  }

  /** What the hub's `apiBase` option points to. */
  get apiBase(): string { return this.server.url; }
  addSite(s: EmulatedSite): void { this.sites.set(s.secretKey, s); }
  bill(billId: string): Bill | undefined {
    const uid = this.byBill.get(billId);
    return uid ? this.payment(uid)?.bill : undefined;
  }

  private err(res: http.ServerResponse, status: number, errorCode: string, description: string): void {
    sendJson(res, status, {
      serviceName: 'invoicing-api', errorCode, description, userMessage: description, dateTime: now(),
      traceId: crypto.randomBytes(8).toString('hex'),
    });
  }

  private site(req: http.IncomingMessage): EmulatedSite | undefined {
    const m = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''));
    return m ? this.sites.get(m[1]!) : undefined;
  }

  /** A bill past its expiry turns EXPIRED when looked at. */
  private refresh(p: QwPayment): void {
    if (p.bill.status.value === 'WAITING' && Date.parse(p.bill.expirationDateTime) <= Date.now()) {
      p.bill.status = { value: 'EXPIRED', changedDateTime: now() };
      p.status = 'EXPIRED';
    }
  }

  protected async route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string): Promise<boolean> {
    const api = /^\/partner\/bill\/v1\/bills\/([^/]+)(?:\/(reject|refunds)(?:\/([^/]+))?)?$/.exec(url.pathname);
    if (api) {
      await this.api(req, res, decodeURIComponent(api[1]!), api[2], api[3] ? decodeURIComponent(api[3]) : undefined, body);
      return true;
    }
    if (url.pathname === '/form/' || url.pathname === '/form') {
      const p = this.payment(url.searchParams.get('invoice_uid') ?? '');
      if (!p) {
        send(res, 404, messagePage('QIWI', 'No such invoice'), 'text/html; charset=utf-8');
        return true;
      }
      this.refresh(p);
      const action = `/form/pay/${p.id}${url.searchParams.get('successUrl') ? `?successUrl=${encodeURIComponent(url.searchParams.get('successUrl')!)}` : ''}`;
      if (wantsJson(req)) sendJson(res, 200, { id: p.id, bill: p.bill, payUrl: action });
      else send(res, 200, buyerPage('QIWI invoice', [['Amount', `${p.bill.amount.value} ${p.bill.amount.currency}`], ['Comment', p.bill.comment ?? ''], ['Status', p.bill.status.value]], action), 'text/html; charset=utf-8');
      return true;
    }
    const pay = /^\/form\/pay\/([^/]+)$/.exec(url.pathname);
    if (pay && req.method === 'POST') {
      await this.pay(req, res, decodeURIComponent(pay[1]!), url.searchParams.get('successUrl'), new URLSearchParams(body));
      return true;
    }
    return false;
  }

  private async api(req: http.IncomingMessage, res: http.ServerResponse, billId: string, sub: string | undefined, refundId: string | undefined, body: string): Promise<void> {
    const site = this.site(req);
    if (!site) return this.err(res, 401, 'auth.unauthorized', 'Unauthorized');
    const uid = this.byBill.get(`${site.siteId}/${billId}`);
    const p = uid ? this.payment(uid) : undefined;
    if (!sub && req.method === 'PUT') return this.create(res, site, billId, p, body);
    if (!p) return this.err(res, 404, 'api.invoice.not.found', 'Invoice not found');
    this.refresh(p);
    if (!sub && req.method === 'GET') return sendJson(res, 200, p.bill);
    if (sub === 'reject' && req.method === 'POST') {
      if (p.bill.status.value === 'WAITING') {
        p.bill.status = { value: 'REJECTED', changedDateTime: now() };
        p.status = 'REJECTED';
      }
      return sendJson(res, 200, p.bill);
    }
    if (sub === 'refunds' && refundId && req.method === 'GET') {
      const r = p.refunds[refundId];
      return r ? sendJson(res, 200, r) : this.err(res, 404, 'api.invoice.not.found', 'Refund not found');
    }
    if (sub === 'refunds' && refundId && req.method === 'PUT') {
      if (p.refunds[refundId]) return sendJson(res, 200, p.refunds[refundId]);
      let v: { amount?: { value?: unknown; currency?: unknown } };
      try {
        v = JSON.parse(body);
      } catch {
        return this.err(res, 400, 'http.message.conversion.failed', 'Malformed JSON');
      }
      const amt = typeof v.amount?.value === 'string' ? minor(v.amount.value) : null;
      if (p.bill.status.value !== 'PAID') return this.err(res, 400, 'validation.error', 'Bill is not paid');
      const refunded = Object.values(p.refunds).reduce((s, r) => s + minor(r.amount.value)!, 0);
      const total = minor(p.bill.amount.value)!;
      if (amt === null || amt <= 0 || v.amount?.currency !== p.bill.amount.currency || refunded + amt > total) {
        return this.err(res, 400, 'refund.incorrect.amount', 'Incorrect refund amount');
      }
      const r = { amount: { value: major(amt), currency: p.bill.amount.currency }, datetime: now(), refundId, status: (refunded + amt === total ? 'FULL' : 'PARTIAL') as 'FULL' | 'PARTIAL' };
      p.refunds[refundId] = r;
      return sendJson(res, 200, r);
    }
    return this.err(res, 405, 'http.method.not.supported', 'Method not supported');
  }

  private create(res: http.ServerResponse, site: EmulatedSite, billId: string, existing: QwPayment | undefined, body: string): void {
    // Repeated PUT with the same billId returns the bill as it stands (providers.md §7.5: unconfirmed).
    if (existing) return sendJson(res, 200, existing.bill);
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(body);
    } catch {
      return this.err(res, 400, 'http.message.conversion.failed', 'Malformed JSON');
    }
    const amount = v.amount as { value?: unknown; currency?: unknown } | undefined;
    const value = typeof amount?.value === 'string' ? amount.value : '';
    if (minor(value) === null || minor(value) === 0 || !['RUB', 'KZT'].includes(String(amount?.currency))) {
      return this.err(res, 400, 'validation.error', 'Invalid amount');
    }
    const exp = typeof v.expirationDateTime === 'string' ? Date.parse(v.expirationDateTime) : NaN;
    if (!Number.isFinite(exp) || exp <= Date.now() || exp > Date.now() + 45 * 86_400_000 + 60_000) {
      return this.err(res, 400, 'validation.error', 'Invalid expirationDateTime');
    }
    if (billId.length > 200) return this.err(res, 400, 'validation.error', 'billId is too long');
    const uid = crypto.randomUUID();
    const bill: Bill = {
      siteId: site.siteId, billId, amount: { value: major(minor(value)!), currency: String(amount!.currency) },
      status: { value: 'WAITING', changedDateTime: now() },
      comment: typeof v.comment === 'string' ? v.comment : undefined,
      customer: (v.customer as Record<string, unknown>) ?? {}, customFields: (v.customFields as Record<string, unknown>) ?? {},
      creationDateTime: now(), expirationDateTime: String(v.expirationDateTime),
      payUrl: `${this.url}/form/?invoice_uid=${uid}`,
    };
    const p: QwPayment = { id: uid, status: 'WAITING', bill, refunds: {}, deliveries: [] };
    this.server.payments.set(uid, p);
    this.byBill.set(`${site.siteId}/${billId}`, uid);
    this.byBill.set(billId, uid);
    sendJson(res, 200, bill);
  }

  private async pay(req: http.IncomingMessage, res: http.ServerResponse, uid: string, successUrl: string | null, f: URLSearchParams): Promise<void> {
    const p = this.payment(uid);
    if (!p) return void send(res, 404, 'no such invoice');
    this.refresh(p);
    if (p.bill.status.value !== 'WAITING') return sendJson(res, 409, { error: `bill is ${p.bill.status.value}` });
    let sw: Switches;
    try {
      sw = this.server.effective(f.get('emu_switches') ?? req.headers['x-emulator-switches']);
    } catch (e) {
      return sendJson(res, 400, { error: `invalid emu_switches: ${(e as Error).message}` });
    }
    const paid = f.get('action') === 'pay';
    p.bill.status = { value: paid ? 'PAID' : 'REJECTED', changedDateTime: now() };
    p.status = p.bill.status.value;
    if (!sw.neverNotify) await this.server.schedule(sw, () => this.notify(p, sw));
    if (wantsJson(req)) return sendJson(res, 200, { ...p, redirect: successUrl });
    if (successUrl) {
      res.writeHead(303, { location: successUrl });
      return void res.end();
    }
    send(res, 200, messagePage('QIWI', paid ? 'Invoice paid.' : 'Invoice rejected.'), 'text/html; charset=utf-8');
  }

  /** The notification body and its signature header, with the switches applied before signing. */
  notification(p: QwPayment, sw: Switches, status = p.bill.status.value): { body: string; signature: string } {
    const site = [...this.sites.values()].find((s) => s.siteId === p.bill.siteId)!;
    const bill = {
      ...p.bill,
      siteId: sw.account ?? p.bill.siteId,
      amount: { value: sw.amount ?? p.bill.amount.value, currency: sw.currency ?? p.bill.amount.currency },
      status: { value: status, changedDateTime: p.bill.status.changedDateTime },
    };
    delete (bill as Partial<Bill>).payUrl;
    let signature = signBill(bill as SignedBill, site.secretKey);
    if (sw.corruptSignature) signature = corrupt(signature);
    return { body: JSON.stringify({ bill, version: '1' }), signature };
  }

  private async notify(p: QwPayment, sw: Switches): Promise<void> {
    const site = [...this.sites.values()].find((s) => s.siteId === p.bill.siteId)!;
    const url = typeof site.notifyUrl === 'function' ? site.notifyUrl() : site.notifyUrl;
    if (!url) return;
    const one = (status?: Bill['status']['value'], kind = 'notification') => {
      const n = this.notification(p, sw, status);
      return deliver(kind, url, n.body, { 'content-type': 'application/json', 'x-api-signature-sha256': n.signature });
    };
    p.deliveries.push(...await copies(sw, () => one()));
    // Out of order: the WAITING state arriving after the final one.
    if (sw.outOfOrder) p.deliveries.push(await one('WAITING', 'notification.stale'));
  }
}

export const DEFAULT_EMULATED_SITE: Omit<EmulatedSite, 'notifyUrl'> = {
  siteId: 'emu-site-01', secretKey: 'eyJ2ZXJzaW9uIjoiUDJQIiwiZGF0YSI6eyJlbXVsYXRvciI6dHJ1ZX19',
};
