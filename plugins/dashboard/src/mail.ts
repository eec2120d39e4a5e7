import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { DashboardOptions } from './options';

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
}

/** Sends a message; resolves when the relay accepted it (or the .eml file is written). */
export interface Mailer {
  send(m: MailMessage): Promise<void>;
  close(): void;
}

/**
 * Nodemailer over SMTP when `smtp.host` is set; otherwise each message is written as an .eml file under mailDir.
 * Only the subject and the recipient are logged, never the body (it may hold a link with a token).
 */
export function createMailer(o: DashboardOptions, rootDir: string, logger: Logger): Mailer {
  const s = o.smtp;
  const from = s.from;
  if (s.host) {
    const transport = nodemailer.createTransport({
      host: s.host, port: s.port, secure: s.secure, ignoreTLS: s.ignoreTLS, auth: s.auth,
      connectionTimeout: s.timeoutMs, greetingTimeout: s.timeoutMs, socketTimeout: s.timeoutMs,
    });
    return {
      async send(m) {
        await transport.sendMail({ from, to: m.to, subject: m.subject, text: m.text, html: m.html, textEncoding: 'quoted-printable' });
        logger.info({ mail: { to: m.to, subject: m.subject } }, 'mail sent');
      },
      close: () => transport.close(),
    };
  }
  const dir = path.resolve(rootDir, o.mailDir);
  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(m) {
      const info = await transport.sendMail({ from, to: m.to, subject: m.subject, text: m.text, html: m.html, textEncoding: 'quoted-printable' });
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${crypto.randomBytes(4).toString('hex')}.eml`);
      fs.writeFileSync(file, info.message as Buffer, { mode: 0o600 });
      logger.info({ mail: { to: m.to, subject: m.subject, file: path.basename(file) } }, 'mail written (no SMTP configured)');
    },
    close: () => undefined,
  };
}
