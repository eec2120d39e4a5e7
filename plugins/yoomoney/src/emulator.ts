/**
 * YooMoney Quickpay emulator (providers.md §3.1–3.2, §6): /quickpay/confirm takes the form, a buyer page with
 * Pay / Decline, the fee formula (amount = what the receiver gets), and the HTTP notification with sha1_hash
 * POSTed to the wallet's notification URL. Extra switches: codepro, unaccepted (money held until accepted
 * through POST /_emulator/payments/:id/accept).
 */
import type http from 'node:http';
import { z } from 'zod';
import { emulatorKit, parseForm } from '@payhub/core';

const { buyerPage, copies, corrupt, deliver, messagePage, send, sendJson, switchesSchema, wantsJson } = emulatorKit;
type EmulatedPayment = emulatorKit.EmulatedPayment;
import { sha1Hash } from './signature';

export const yooSwitchesSchema = switchesSchema.extend({
  codepro: z.boolean().optional(),
  unaccepted: z.boolean().optional(),
});
export type YooSwitches = z.infer<typeof yooSwitchesSchema>;

export interface EmulatedWallet {
  receiver: string;
  notificationSecret: string;
  /** Where this wallet's notifications go (wallet settings). */
  notifyUrl?: string | (() => string);
}

export interface YooMoneyEmulatorOptions {
  wallets: EmulatedWallet[];
  /** Fee coefficients in basis points: PC (wallet) and AC (card). Defaults 100 / 300 (1 % / 3 %). */
  feeBasisPoints?: { PC?: number; AC?: number };
}

interface YmPayment extends EmulatedPayment {
  receiver: string;
  form: Record<string, string>;
  operationId?: string;
  sw?: YooSwitches;
}

/** Minor units: PC amount_due = sum − sum·a/(1+a); AC amount_due = sum·(1−a); rounded half up, integers only. */
export function amountDue(sumMinor: number, paymentType: string, bp: number): number {
  const fee = paymentType === 'PC'
    ? Math.floor((2 * sumMinor * bp + (10_000 + bp)) / (2 * (10_000 + bp)))
    : Math.floor((2 * sumMinor * bp + 10_000) / 20_000);
  return sumMinor - fee;
}

function toMinor(v: string): number {
  const m = /^(\d{1,13})(?:\.(\d{1,2}))?$/.exec(v);
  if (!m) throw new Error('bad sum');
  return Number(m[1]) * 100 + Number((m[2] ?? '').padEnd(2, '0'));
}
function toMajor(n: number): string {
  return `${Math.floor(n / 100)}.${String(n % 100).padStart(2, '0')}`;
}

export class YooMoneyEmulator extends emulatorKit.ProviderEmulator<YmPayment, YooSwitches> {
  private readonly wallets = new Map<string, EmulatedWallet>();
  private readonly fees: { PC: number; AC: number };
  private seq = 0;
  private op = 721628698123000000;

  constructor(opts: YooMoneyEmulatorOptions) {
    super('yoomoney', yooSwitchesSchema);
    for (const w of opts.wallets) this.wallets.set(w.receiver, w);
    this.fees = { PC: opts.feeBasisPoints?.PC ?? 100, AC: opts.feeBasisPoints?.AC ?? 300 };
  }

  get quickpayUrl(): string { return `${this.server.url}/quickpay/confirm`; }
  addWallet(w: EmulatedWallet): void { this.wallets.set(w.receiver, w); }

  protected async route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string): Promise<boolean> {
    if (req.method === 'POST' && (url.pathname === '/quickpay/confirm' || url.pathname === '/quickpay/confirm.xml')) {
      this.form(req, res, parseForm(body));
      return true;
    }
    let m = /^\/quickpay\/pay\/([^/]+)$/.exec(url.pathname);
    if (m && req.method === 'POST') {
      await this.pay(req, res, decodeURIComponent(m[1]!), parseForm(body));
      return true;
    }
    m = /^\/_emulator\/payments\/([^/]+)\/accept$/.exec(url.pathname);
    if (m && req.method === 'POST') {
      const p = this.payment(decodeURIComponent(m[1]!));
      if (!p || p.status !== 'held') {
        sendJson(res, 409, { error: 'payment is not held' });
        return true;
      }
      p.status = 'paid';
      const sw: YooSwitches = { ...(p.sw ?? {}), codepro: false, unaccepted: false, outOfOrder: false, delayMs: 0 };
      await this.notify(p, sw);
      sendJson(res, 200, p);
      return true;
    }
    return false;
  }

  private error(req: http.IncomingMessage, res: http.ServerResponse, status: number, text: string): void {
    if (wantsJson(req)) sendJson(res, status, { error: text });
    else send(res, status, messagePage('Payment error', text), 'text/html; charset=utf-8');
  }

  private form(req: http.IncomingMessage, res: http.ServerResponse, f: Record<string, string> | null): void {
    if (!f) return this.error(req, res, 400, 'Malformed form');
    const receiver = f.receiver ?? '';
    if (!this.wallets.has(receiver)) return this.error(req, res, 400, 'Unknown receiver');
    if (!['button', 'shop', 'donate', 'small'].includes(f['quickpay-form'] ?? '')) return this.error(req, res, 400, 'Invalid quickpay-form');
    if (!['PC', 'AC'].includes(f.paymentType ?? '')) return this.error(req, res, 400, 'Invalid paymentType');
    if (!/^\d{1,13}(\.\d{1,2})?$/.test(f.sum ?? '') || toMinor(f.sum!) === 0) return this.error(req, res, 400, 'Invalid sum');
    if ((f.label ?? '').length > 64) return this.error(req, res, 400, 'label is longer than 64 characters');
    const id = `ym${++this.seq}`;
    const p: YmPayment = { id, status: 'new', receiver, form: f, deliveries: [] };
    this.server.payments.set(id, p);
    const headers = { 'x-emulator-payment': id };
    if (wantsJson(req)) return sendJson(res, 200, { id, payUrl: `${this.url}/quickpay/pay/${id}` }, headers);
    send(res, 200, buyerPage('YooMoney payment', [
      ['Receiver', receiver], ['Sum', `${f.sum} RUB`], ['Paid from', f.paymentType === 'PC' ? 'YooMoney wallet' : 'Bank card'], ['Purpose', f.targets ?? ''],
    ], `/quickpay/pay/${id}`), 'text/html; charset=utf-8', headers);
  }

  private async pay(req: http.IncomingMessage, res: http.ServerResponse, id: string, f: Record<string, string> | null): Promise<void> {
    const p = this.payment(id);
    if (!p || !f) return this.error(req, res, 404, 'No such payment');
    if (p.status !== 'new') return this.error(req, res, 409, `Payment is ${p.status}`);
    let sw: YooSwitches;
    try {
      sw = this.server.effective(f.emu_switches ?? req.headers['x-emulator-switches']);
    } catch (e) {
      return this.error(req, res, 400, `Invalid emu_switches: ${(e as Error).message}`);
    }
    if (f.action !== 'pay') {
      // Quickpay has no fail URL: the buyer just stays here; no notification is sent.
      p.status = 'declined';
      if (wantsJson(req)) return sendJson(res, 200, { ...p, redirect: null });
      return send(res, 200, messagePage('YooMoney', 'Payment canceled. You can close this page and return to the shop.'), 'text/html; charset=utf-8');
    }
    p.operationId = String(++this.op);
    p.sw = sw;
    p.status = sw.codepro || sw.unaccepted ? 'held' : 'paid';
    if (!sw.neverNotify) await this.server.schedule(sw, () => this.notify(p, sw));
    const target = p.form.successURL ?? '';
    if (wantsJson(req)) return sendJson(res, 200, { ...p, redirect: target || null });
    if (!target) return send(res, 200, messagePage('YooMoney', 'Payment done.'), 'text/html; charset=utf-8');
    res.writeHead(303, { location: target });
    res.end();
  }

  /** The notification fields for a payment, signed with the wallet's secret. */
  notificationFields(p: YmPayment, sw: YooSwitches, stage: 'final' | 'early' = 'final'): Record<string, string> {
    const receiver = sw.account ?? p.receiver;
    const wallet = this.wallets.get(receiver);
    const pt = p.form.paymentType!;
    const sum = toMinor(p.form.sum!);
    const withdraw = sw.amount ? toMinor(sw.amount) : sum;
    const net = sw.amount ? toMinor(sw.amount) : amountDue(sum, pt, pt === 'PC' ? this.fees.PC : this.fees.AC);
    const f: Record<string, string> = {
      notification_type: pt === 'PC' ? 'p2p-incoming' : 'card-incoming',
      operation_id: p.operationId!,
      amount: toMajor(net),
      withdraw_amount: toMajor(withdraw),
      currency: sw.currency ?? '643',
      datetime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      sender: pt === 'PC' ? '41001000040' : '',
      codepro: stage === 'final' && sw.codepro ? 'true' : 'false',
      label: p.form.label ?? '',
      // The early stage: money not yet credited.
      unaccepted: stage === 'early' || sw.unaccepted ? 'true' : 'false',
    };
    if (sw.mode === 'test') f.test_notification = 'true';
    // Another wallet's notification is signed with that wallet's secret (or one the hub cannot know).
    f.sha1_hash = sha1Hash(f, wallet?.notificationSecret ?? 'unknown-wallet-secret');
    if (sw.corruptSignature) f.sha1_hash = corrupt(f.sha1_hash);
    return f;
  }

  private async notify(p: YmPayment, sw: YooSwitches): Promise<void> {
    const w = this.wallets.get(p.receiver)!;
    const url = typeof w.notifyUrl === 'function' ? w.notifyUrl() : w.notifyUrl;
    if (!url) return;
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    const body = new URLSearchParams(this.notificationFields(p, sw)).toString();
    p.deliveries.push(...await copies(sw, () => deliver('notification', url, body, headers)));
    if (sw.outOfOrder) {
      // An earlier-stage message (money not yet credited) arriving after the final one.
      const early = new URLSearchParams(this.notificationFields(p, sw, 'early')).toString();
      p.deliveries.push(await deliver('notification.early', url, early, headers));
    }
  }
}

export const DEFAULT_EMULATED_WALLET: Omit<EmulatedWallet, 'notifyUrl'> = {
  receiver: '4100100000000001', notificationSecret: 'emulator-notification-secret',
};
