import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createTestHub, type TestHub } from '@payhub/core';

export const ROOT = path.resolve(__dirname, '../../../..');
export const SELF = path.resolve(__dirname, '../..');
export const SANDBOX = path.join(ROOT, 'plugins/sandbox-bank');
export const CARD = path.join(ROOT, 'plugins/card');
export const TERMINAL_SECRET = 'dashboard-test-terminal-secret';

export interface Received { from: string; to: string[]; raw: string; subject: string; body: string }

/** Decodes quoted-printable bodies and MIME-encoded headers, enough to assert on our own messages. */
export function decodeMail(raw: string): { subject: string; body: string } {
  const unfolded = raw.replace(/\r\n/g, '\n');
  const headerEnd = unfolded.indexOf('\n\n');
  const headers = unfolded.slice(0, headerEnd).replace(/\n[ \t]+/g, ' ');
  const words = (s: string) => s.replace(/=\?utf-8\?([bq])\?([^?]*)\?=\s*/gi, (_m, enc: string, txt: string) => enc.toLowerCase() === 'b'
    ? Buffer.from(txt, 'base64').toString('utf8')
    : Buffer.from(txt.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8'));
  const subject = words(/^subject: (.*)$/im.exec(headers)?.[1] ?? '').trim();
  const qp = unfolded.slice(headerEnd).replace(/=\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < qp.length; i++) {
    const m = /^=([0-9A-F]{2})/.exec(qp.slice(i, i + 3));
    if (m) {
      bytes.push(parseInt(m[1]!, 16));
      i += 2;
    } else bytes.push(...Buffer.from(qp[i]!, 'utf8'));
  }
  return { subject, body: Buffer.from(bytes).toString('utf8') };
}

/** A real SMTP server in-process (port 0, no auth, no STARTTLS) that keeps what it receives. */
export async function startSmtp(): Promise<{ port: number; mails: Received[]; waitFor(pred: (m: Received) => boolean, ms?: number): Promise<Received>; close(): Promise<void> }> {
  const mails: Received[] = [];
  const server = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        mails.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw, ...decodeMail(raw) });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port, mails,
    async waitFor(pred, ms = 10_000) {
      const until = Date.now() + ms;
      for (;;) {
        const m = mails.find(pred);
        if (m) return m;
        if (Date.now() > until) throw new Error(`no such mail; got: ${mails.map((x) => `${x.to.join(',')}: ${x.subject}`).join(' | ')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Env { hub: TestHub; smtp: Awaited<ReturnType<typeof startSmtp>>; dataDir: string; close(): Promise<void> }

/** A hub with sandbox-bank, card and this plugin; mail goes to an in-process SMTP server. */
export async function startEnv(options: Record<string, unknown> = {}): Promise<Env> {
  const smtp = await startSmtp();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-dash-'));
  const hub = await createTestHub({
    plugins: [
      { resolve: SANDBOX, options: { terminalSecret: TERMINAL_SECRET } },
      { resolve: CARD },
      { resolve: SELF, options: { dataDir, mailDir: path.join(dataDir, 'mail'), smtp: { host: '127.0.0.1', port: smtp.port, ignoreTLS: true, from: 'Payhub <hub@test.local>' }, ...options } },
    ],
  });
  return {
    hub, smtp, dataDir,
    async close() {
      await hub.close();
      await smtp.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const APPLICATION = {
  shop_name: 'Flower shop', site_url: 'https://flowers.example', contact_email: 'owner@flowers.example',
  legal: { name: 'OOO Flowers', inn: '7701234567', address: 'Moscow, Tverskaya 1' },
};

export const CARD_OK = { method: 'card', card: { number: '4111111111111111', exp_month: 12, exp_year: 2030, cvc: '123', holder: 'IVAN PETROV' } };

/** A minimal browser-less client of the dashboard: keeps the session cookie and reads the CSRF token of each page. */
export class PageClient {
  cookies = new Map<string, string>();
  csrf = '';
  constructor(readonly base: string) {}

  async req(method: string, p: string, form?: Record<string, string>): Promise<{ status: number; text: string; location: string | null; headers: Headers }> {
    const headers: Record<string, string> = { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '), 'accept-language': 'en' };
    let body: string | undefined;
    if (form) {
      body = new URLSearchParams({ _csrf: this.csrf, ...form }).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(this.base + p, { method, headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(';');
      const i = kv!.indexOf('=');
      const k = kv!.slice(0, i), v = kv!.slice(i + 1);
      if (/Max-Age=0/.test(c)) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    const text = await res.text();
    const m = /name="_csrf" value="([^"]+)"/.exec(text);
    if (m) this.csrf = m[1]!;
    return { status: res.status, text, location: res.headers.get('location'), headers: res.headers };
  }
  get(p: string) {
    return this.req('GET', p);
  }
  post(p: string, form: Record<string, string> = {}) {
    return this.req('POST', p, form);
  }
  async login(email: string, password: string) {
    await this.get('/dashboard/login');
    return this.post('/dashboard/login', { email, password });
  }
}

/** The operator's one-time password from the file written on first start. */
export function operatorPassword(dataDir: string): { email: string; password: string } {
  const [email, password] = fs.readFileSync(path.join(dataDir, 'operator-password'), 'utf8').trim().split(' ');
  return { email: email!, password: password! };
}
