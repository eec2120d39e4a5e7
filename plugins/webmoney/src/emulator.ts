/**
 * WebMoney Merchant emulator (providers.md §2, §6): the payment form endpoint, a buyer page with Pay / Decline,
 * the pre-request (expects "YES"), the signed payment notification (LMI_HASH + LMI_HASH2) to the Result URL,
 * LMI_SIM_MODE in test mode, and the browser redirect to the success / fail URL.
 */
import type http from 'node:http';
import { emulatorKit, parseForm } from '@payhub/core';

const { buyerPage, copies, corrupt, deliver, messagePage, send, sendJson, wantsJson } = emulatorKit;
type Delivery = emulatorKit.Delivery;
type EmulatedPayment = emulatorKit.EmulatedPayment;
type Switches = emulatorKit.Switches;
import { PURSE_CURRENCY, PURSE_RE, lmiHash, lmiHash2, paymentFormSign, hexEqual, type SignedFields } from './signature';

/** A purse as configured in the (emulated) WebMoney cabinet. */
export interface EmulatedPurse {
  purse: string;
  secretKey: string;
  /** LMI_HASH method; 'sign' sends LMI_HASH2 only. */
  hashMethod?: 'sha256' | 'md5' | 'sign';
  /** X20 key: when set, LMI_PAYMENTFORM_SIGN is required on the form. */
  formSignKey?: string;
  formSignTrailingSemicolon?: boolean;
  /** Cabinet test/work mode: LMI_MODE 1 / 0. */
  mode?: 'test' | 'live';
  /** Cabinet Result URL, used when the form sends no LMI_RESULT_URL. */
  resultUrl?: string;
  /** Whether the pre-request is sent (cabinet setting). */
  prerequest?: boolean;
}

export interface WebMoneyEmulatorOptions {
  purses: EmulatedPurse[];
}

interface WmPayment extends EmulatedPayment {
  purse: string;
  form: Record<string, string>;
  invsNo?: string;
  transNo?: string;
}

const CURRENCY_LETTER: Record<string, string> = { USD: 'Z', EUR: 'E', RUB: 'R', UAH: 'U', BYN: 'B', KZT: 'K' };

function wmDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

export class WebMoneyEmulator extends emulatorKit.ProviderEmulator<WmPayment> {
  private readonly purses = new Map<string, EmulatedPurse>();
  private seq = 0;
  private invs = 100000;

  constructor(opts: WebMoneyEmulatorOptions) {
    super('webmoney');
    for (const p of opts.purses) this.purses.set(p.purse, p);
  }

  /** Address of the payment form endpoint (what the hub's `formUrl` option points to). */
  get formUrl(): string { return `${this.server.url}/lmi/payment_utf.asp`; }
  addPurse(p: EmulatedPurse): void { this.purses.set(p.purse, p); }

  protected async route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, body: string): Promise<boolean> {
    if (req.method === 'POST' && (url.pathname === '/lmi/payment_utf.asp' || url.pathname === '/lmi/payment.asp')) {
      this.form(req, res, parseForm(body));
      return true;
    }
    const m = /^\/lmi\/pay\/([^/]+)$/.exec(url.pathname);
    if (m && req.method === 'POST') {
      await this.pay(req, res, decodeURIComponent(m[1]!), parseForm(body));
      return true;
    }
    return false;
  }

  private error(req: http.IncomingMessage, res: http.ServerResponse, status: number, text: string): void {
    if (wantsJson(req)) sendJson(res, status, { error: text });
    else send(res, status, messagePage('Payment error', text), 'text/html; charset=utf-8');
  }

  /** The buyer's browser posts the merchant's form here. */
  private form(req: http.IncomingMessage, res: http.ServerResponse, f: Record<string, string> | null): void {
    if (!f) return this.error(req, res, 400, 'Malformed form');
    const purse = f.LMI_PAYEE_PURSE ?? '';
    const acc = this.purses.get(purse);
    if (!PURSE_RE.test(purse) || !acc) return this.error(req, res, 400, 'Unknown payee purse');
    if (!/^\d{1,13}(\.\d{1,2})?$/.test(f.LMI_PAYMENT_AMOUNT ?? '') || /^0+(\.0+)?$/.test(f.LMI_PAYMENT_AMOUNT ?? '')) {
      return this.error(req, res, 400, 'Invalid LMI_PAYMENT_AMOUNT');
    }
    if (f.LMI_PAYMENT_NO !== undefined && !/^\d{1,15}$/.test(f.LMI_PAYMENT_NO)) return this.error(req, res, 400, 'Invalid LMI_PAYMENT_NO');
    if (acc.formSignKey) {
      const expected = paymentFormSign({ purse, amount: f.LMI_PAYMENT_AMOUNT!, paymentNo: f.LMI_PAYMENT_NO ?? '', hold: f.LMI_HOLD },
        acc.formSignKey, acc.formSignTrailingSemicolon ?? true);
      if (!f.LMI_PAYMENTFORM_SIGN || !hexEqual(f.LMI_PAYMENTFORM_SIGN, expected)) return this.error(req, res, 400, 'Invalid LMI_PAYMENTFORM_SIGN');
    }
    const id = `wm${++this.seq}`;
    const p: WmPayment = { id, status: 'new', purse, form: f, deliveries: [] };
    this.server.payments.set(id, p);
    const desc = f.LMI_PAYMENT_DESC_BASE64 ? Buffer.from(f.LMI_PAYMENT_DESC_BASE64, 'base64').toString('utf8') : (f.LMI_PAYMENT_DESC ?? '');
    const headers = { 'x-emulator-payment': id };
    if (wantsJson(req)) return sendJson(res, 200, { id, payUrl: `${this.url}/lmi/pay/${id}` }, headers);
    send(res, 200, buyerPage('WebMoney payment', [
      ['Purse', purse], ['Amount', `${f.LMI_PAYMENT_AMOUNT} WM${purse[0]}`], ['Payment no.', f.LMI_PAYMENT_NO ?? ''], ['Description', desc],
    ], `/lmi/pay/${id}`), 'text/html; charset=utf-8', headers);
  }

  private async pay(req: http.IncomingMessage, res: http.ServerResponse, id: string, f: Record<string, string> | null): Promise<void> {
    const p = this.payment(id);
    if (!p || !f) return this.error(req, res, 404, 'No such payment');
    if (p.status !== 'new') return this.error(req, res, 409, `Payment is ${p.status}`);
    let sw: Switches;
    try {
      sw = this.server.effective(f.emu_switches ?? req.headers['x-emulator-switches']);
    } catch (e) {
      return this.error(req, res, 400, `Invalid emu_switches: ${(e as Error).message}`);
    }
    const acc = this.purses.get(p.purse)!;
    let ok = f.action === 'pay';
    const sim = p.form.LMI_SIM_MODE;
    if (ok && (acc.mode ?? 'test') === 'test') {
      if (sim === '1') ok = false;
      else if (sim === '2') ok = Math.random() < 0.8;
    }
    if (!ok) {
      p.status = 'declined';
      return this.finish(req, res, p, false);
    }
    p.status = 'paid';
    p.invsNo = String(++this.invs);
    p.transNo = String(this.invs + 500000);
    if (sw.neverNotify) return this.finish(req, res, p, true);
    const work = this.notifyAll(p, acc, sw);
    await this.server.schedule(sw, () => work());
    this.finish(req, res, p, p.status === 'paid');
  }

  private resultUrl(p: WmPayment, acc: EmulatedPurse): string {
    return p.form.LMI_RESULT_URL || acc.resultUrl || '';
  }

  private custom(p: WmPayment): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.form)) if (!k.startsWith('LMI_') && !k.startsWith('emu_')) out[k] = v;
    return out;
  }

  private notifyAll(p: WmPayment, acc: EmulatedPurse, sw: Switches): () => Promise<void> {
    return async () => {
      const url = this.resultUrl(p, acc);
      if (!url) return;
      const pre = async (): Promise<Delivery | null> => {
        if (acc.prerequest === false) return null;
        const d = await deliver('prerequest', url, new URLSearchParams(this.prerequestFields(p, acc, sw)).toString(),
          { 'content-type': 'application/x-www-form-urlencoded' });
        p.deliveries.push(d);
        return d;
      };
      if (!sw.outOfOrder) {
        const d = await pre();
        if (d && (d.status !== 200 || d.body.trim() !== 'YES')) {
          p.status = 'refused';
          return;
        }
      }
      const body = new URLSearchParams(this.notificationFields(p, acc, sw)).toString();
      const ds = await copies(sw, () => deliver('notification', url, body, { 'content-type': 'application/x-www-form-urlencoded' }));
      p.deliveries.push(...ds);
      if (sw.outOfOrder) await pre();
    };
  }

  private sent(p: WmPayment, acc: EmulatedPurse, sw: Switches) {
    let purse = sw.account ?? p.purse;
    if (sw.currency && CURRENCY_LETTER[sw.currency]) purse = CURRENCY_LETTER[sw.currency] + purse.slice(1);
    const mode = (sw.mode ?? acc.mode ?? 'test') === 'test' ? '1' : '0';
    return { purse, amount: sw.amount ?? p.form.LMI_PAYMENT_AMOUNT!, mode };
  }

  private prerequestFields(p: WmPayment, acc: EmulatedPurse, sw: Switches): Record<string, string> {
    const s = this.sent(p, acc, sw);
    return {
      LMI_PREREQUEST: '1', LMI_PAYEE_PURSE: s.purse, LMI_PAYMENT_AMOUNT: s.amount, LMI_PAYMENT_NO: p.form.LMI_PAYMENT_NO ?? '',
      LMI_MODE: s.mode, LMI_PAYER_WM: '100000000001', LMI_PAYER_PURSE: `${p.purse[0]}100000000001`,
      LMI_PAYMENT_DESC: p.form.LMI_PAYMENT_DESC_BASE64 ? Buffer.from(p.form.LMI_PAYMENT_DESC_BASE64, 'base64').toString('utf8') : (p.form.LMI_PAYMENT_DESC ?? ''),
      LMI_LANG: 'en-US', ...(p.form.LMI_HOLD ? { LMI_HOLD: p.form.LMI_HOLD } : {}), ...this.custom(p),
    };
  }

  notificationFields(p: WmPayment, acc: EmulatedPurse, sw: Switches): Record<string, string> {
    const s = this.sent(p, acc, sw);
    const signed: SignedFields = {
      LMI_PAYEE_PURSE: s.purse, LMI_PAYMENT_AMOUNT: s.amount, LMI_PAYMENT_NO: p.form.LMI_PAYMENT_NO ?? '', LMI_MODE: s.mode,
      LMI_SYS_INVS_NO: p.invsNo!, LMI_SYS_TRANS_NO: p.transNo!, LMI_SYS_TRANS_DATE: wmDate(new Date()),
      LMI_PAYER_PURSE: `${p.purse[0]}100000000001`, LMI_PAYER_WM: '100000000001',
    };
    if (p.form.LMI_HOLD) signed.LMI_HOLD = p.form.LMI_HOLD;
    const out: Record<string, string> = { ...this.prerequestFields(p, acc, sw), ...signed };
    delete out.LMI_PREREQUEST;
    const hm = acc.hashMethod ?? 'sha256';
    if (hm !== 'sign') out.LMI_HASH = lmiHash(signed, acc.secretKey, hm);
    out.LMI_HASH2 = lmiHash2(signed, acc.secretKey);
    if (sw.corruptSignature) {
      if (out.LMI_HASH) out.LMI_HASH = corrupt(out.LMI_HASH);
      out.LMI_HASH2 = corrupt(out.LMI_HASH2);
    }
    return out;
  }

  /** Sends the buyer back: 303 to the success / fail URL (or JSON for tests). */
  private finish(req: http.IncomingMessage, res: http.ServerResponse, p: WmPayment, success: boolean): void {
    const target = (success ? p.form.LMI_SUCCESS_URL : p.form.LMI_FAIL_URL) ?? '';
    const method = (success ? p.form.LMI_SUCCESS_METHOD : p.form.LMI_FAIL_METHOD) ?? '0';
    const params: Record<string, string> = { LMI_PAYMENT_NO: p.form.LMI_PAYMENT_NO ?? '' };
    if (p.invsNo) Object.assign(params, { LMI_SYS_INVS_NO: p.invsNo, LMI_SYS_TRANS_NO: p.transNo! });
    if (success && p.invsNo) params.LMI_SYS_TRANS_DATE = wmDate(new Date());
    Object.assign(params, this.custom(p));
    let location = target;
    if (target && (method === '0' || method === 'GET')) {
      const u = new URL(target);
      for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
      location = u.toString();
    }
    if (wantsJson(req)) return sendJson(res, 200, { ...p, redirect: location });
    if (!target) return send(res, 200, messagePage('WebMoney', success ? 'Payment done.' : 'Payment failed.'), 'text/html; charset=utf-8');
    if (method === '1' || method === 'POST') {
      const inputs = Object.entries(params).map(([k, v]) => `<input type="hidden" name="${k}" value="${v.replace(/"/g, '&quot;')}">`).join('');
      return send(res, 200, `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Redirect</title></head><body onload="document.forms[0].submit()"><form method="post" action="${target.replace(/"/g, '&quot;')}">${inputs}<button>Continue</button></form></body></html>`, 'text/html; charset=utf-8');
    }
    res.writeHead(303, { location });
    res.end();
  }
}

export const DEFAULT_EMULATED_PURSE: EmulatedPurse = {
  purse: 'Z000000000001', secretKey: 'emulator-secret-key', hashMethod: 'sha256', mode: 'test',
};

export { PURSE_CURRENCY };
