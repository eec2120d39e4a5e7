/**
 * The mutual-TLS listener: GET /pay-account/:order_id shows the order and a confirm button, POST starts the payment
 * with the certificate the buyer presented in the TLS handshake (TLS proves possession of its key).
 *
 * TLS asks for a certificate (`requestCert`) but does not reject (`rejectUnauthorized: false`): the handshake only
 * proves key possession; every trust decision is the plugin's own verification against the hub clock and its tables,
 * so a refused certificate gets a readable page instead of a TLS alert.
 */
import crypto from 'node:crypto';
import https from 'node:https';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import {
  PayhubError, toMajorString, type Keyring, type OrderView, type PaymentsService, type Runtime, type Clock,
} from '@payhub/core';
import { METHOD_ID, type TlsHandoff } from './method';
import type { AccountsService } from './service';

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const ORDER_ID = /^ord_[A-Za-z0-9]{1,64}$/;
const TOKEN_TTL_MS = 15 * 60_000;

export interface MtlsDeps {
  service: AccountsService;
  payments: () => PaymentsService;
  runtime: () => Runtime;
  keyring: () => Keyring;
  clock: () => Clock;
  handoff: TlsHandoff;
  logger: Logger;
  publicUrl?: string;
  /** Address the listener binds (used in links when it is not a wildcard). */
  host?: string;
}

function page(res: http.ServerResponse, status: number, title: string, body: string): void {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`
    + `<title>${esc(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}`
    + `dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem}button{font-size:1.1rem;padding:.6rem 1.4rem}.err{color:#a00}</style></head>`
    + `<body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(html);
}

export class MtlsListener {
  private server: https.Server | null = null;
  private port = 0;

  constructor(private readonly d: MtlsDeps) {}

  async start(tlsOpts: { cert: string; key: string; ca: string }, port: number, host: string): Promise<number> {
    const server = https.createServer({
      cert: tlsOpts.cert, key: tlsOpts.key, ca: [tlsOpts.ca],
      requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2',
      headersTimeout: 10_000, requestTimeout: 30_000,
    }, (req, res) => {
      this.handle(req, res).catch((e) => {
        this.d.logger.error({ err: (e as Error).message }, 'personal-account mTLS page failed');
        if (!res.headersSent) page(res, 500, 'Something went wrong', '<p>Please try again later.</p>');
        else res.end();
      });
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.port;
  }

  /** Origin of the listener as buyers reach it. */
  origin(): string {
    if (this.d.publicUrl) return this.d.publicUrl.replace(/\/$/, '');
    let host = this.d.host && !['0.0.0.0', '::', '[::]'].includes(this.d.host) ? this.d.host : 'localhost';
    if (host === 'localhost') {
      try {
        host = new URL(this.d.runtime().baseUrl()).hostname;
      } catch { /* keep localhost */ }
    }
    return `https://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  linkFor(orderId: string): string {
    return `${this.origin()}/pay-account/${encodeURIComponent(orderId)}`;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private token(orderId: string, serial: string, at: number): string {
    return `${at}.${this.d.keyring().fingerprint('pa.mtls_confirm', `${orderId}|${serial}|${at}`)}`;
  }

  private tokenValid(token: string, orderId: string, serial: string): boolean {
    const m = /^(\d{1,15})\.([0-9a-f]{64})$/.exec(token);
    if (!m) return false;
    const at = Number(m[1]);
    if (Date.now() - at > TOKEN_TTL_MS || at > Date.now() + 60_000) return false;
    const expected = this.token(orderId, serial, at);
    return expected.length === token.length && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(token));
  }

  private async readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > 4096) throw new PayhubError('payload_too_large', 'form too large', { status: 413 });
      chunks.push(c as Buffer);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const m = /^\/pay-account\/([^/]+)(\/result)?$/.exec(url.pathname);
    if (!m || !ORDER_ID.test(decodeURIComponent(m[1]!))) return page(res, 404, 'Not found', '<p>No such page.</p>');
    const orderId = decodeURIComponent(m[1]!);
    const order = await this.d.payments().getOrder(orderId);
    if (!order) return page(res, 404, 'Order not found', '<p>This order does not exist.</p>');

    if (m[2]) {
      if (req.method !== 'GET') return page(res, 405, 'Method not allowed', '');
      const attempts = (await this.d.payments().listAttempts(order.id)).filter((a) => a.method === METHOD_ID);
      const last = attempts.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0];
      return page(res, 200, order.status === 'paid' ? 'Payment complete' : 'Payment status',
        `<p>Order ${esc(order.orderNumber)}: <strong>${esc(order.status)}</strong></p>`
        + (last?.declineReason ? `<p class="err">Declined: ${esc(last.declineReason)}</p>` : '')
        + (order.returnUrl ? `<p><a href="${esc(order.returnUrl)}">Back to the shop</a></p>` : ''));
    }

    const peer = (req.socket as TLSSocket).getPeerCertificate?.(false);
    if (!peer || !peer.raw) {
      return page(res, 401, 'Certificate required', '<p>Your browser did not present a personal-account certificate. Install the certificate issued for your account and reload this page.</p>');
    }
    let serial: string;
    try {
      const v = await this.d.service.verifyForOrder(peer.raw, order);
      serial = v.cert.serial;
      if (req.method === 'GET') return this.confirmPage(res, order, v.account.holder, v.account.account_last4, serial);
    } catch (e) {
      if (e instanceof PayhubError && e.status < 500) {
        return page(res, 403, 'Certificate refused', `<p class="err">${esc(e.message)} (${esc(e.code)})</p>`);
      }
      throw e;
    }
    if (req.method !== 'POST') return page(res, 405, 'Method not allowed', '');
    const origin = req.headers.origin;
    if (origin && origin !== 'null' && origin !== this.origin()) return page(res, 403, 'Refused', '<p class="err">Cross-site request refused.</p>');
    const form = await this.readForm(req);
    if (!this.tokenValid(form.get('confirm') ?? '', order.id, serial)) {
      return page(res, 403, 'Confirmation expired', `<p class="err">Please <a href="${esc(`/pay-account/${order.id}`)}">reload the payment page</a> and confirm again.</p>`);
    }
    const token = this.d.handoff.put(peer.raw, order.id);
    try {
      await this.d.payments().startAttempt({
        merchantId: order.merchantId, orderId: order.id, method: METHOD_ID, input: { mtls_token: token }, source: 'page',
        request: { ip: req.socket.remoteAddress, userAgent: req.headers['user-agent'], baseUrl: this.d.runtime().baseUrl() },
      });
    } catch (e) {
      if (e instanceof PayhubError && e.status < 500) {
        return page(res, e.status, 'Payment refused', `<p class="err">${esc(e.message)} (${esc(e.code)})</p>`);
      }
      throw e;
    }
    const fresh = await this.d.payments().getOrder(order.id);
    const target = fresh?.status === 'paid' && fresh.returnUrl ? fresh.returnUrl : `${this.origin()}/pay-account/${order.id}/result`;
    res.writeHead(303, { location: target, 'cache-control': 'no-store' });
    res.end();
  }

  private confirmPage(res: http.ServerResponse, order: OrderView, holder: string, last4: string, serial: string): void {
    const payable = order.status === 'created';
    const token = this.token(order.id, serial, Date.now());
    page(res, 200, 'Pay from your personal account',
      `<dl><dt>Order</dt><dd>${esc(order.orderNumber)}</dd>`
      + `<dt>Description</dt><dd>${esc(order.description)}</dd>`
      + `<dt>Amount</dt><dd>${esc(toMajorString(order.amount, order.currency))} ${esc(order.currency)}</dd>`
      + `<dt>Account</dt><dd>${esc(holder)} (…${esc(last4)})</dd></dl>`
      + (payable
        ? `<form method="post" action="/pay-account/${esc(order.id)}"><input type="hidden" name="confirm" value="${esc(token)}"><button type="submit">Confirm payment</button></form>`
        : `<p>This order is ${esc(order.status)}.</p>`));
  }
}
