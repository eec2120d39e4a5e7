import { z } from 'zod';

/** Plugin options (config `plugins[].options`). Values are never echoed in validation errors. */
export const optionsSchema = z.strictObject({
  /** Hours a self-registered applicant may use its test key before registration. */
  testPeriodHours: z.number().positive().max(24 * 365).default(24),
  /** Public applications accepted per client IP per hour. */
  applicationsPerHour: z.number().int().min(1).max(10_000).default(5),
  /** Failed logins per e-mail (and, ×4, per IP) within loginWindowMinutes before logins are refused. */
  loginMaxFailures: z.number().int().min(1).max(1000).default(5),
  loginWindowMinutes: z.number().int().min(1).max(24 * 60).default(15),
  /** Session lifetime in hours. */
  sessionHours: z.number().positive().max(24 * 90).default(12),
  /** Where the operator's one-time password file and the .eml files go; relative to the project root. */
  dataDir: z.string().min(1).default('data'),
  /** .eml directory when SMTP is not configured; relative to the project root. */
  mailDir: z.string().min(1).default('data/mail'),
  /** E-mail of the operator account created on first start. */
  operatorEmail: z.string().email().default('operator@localhost'),
  /** Default language of pages and e-mails. */
  defaultLang: z.enum(['ru', 'en']).default('en'),
  /** SMTP; without `host` mails are written as .eml files under mailDir. */
  smtp: z.strictObject({
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).default(587),
    secure: z.boolean().default(false),
    /** Do not upgrade with STARTTLS (local relays only). */
    ignoreTLS: z.boolean().default(false),
    auth: z.strictObject({ user: z.string().min(1), pass: z.string().min(1) }).optional(),
    from: z.string().min(3).default('Payhub <no-reply@localhost>'),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  }).prefault({}),
});

export type DashboardOptions = z.output<typeof optionsSchema>;
