import { z } from 'zod';

const seconds = z.number().int().nonnegative();

export const pluginEntrySchema = z.strictObject({
  /** npm package name or a path (relative to the project root). */
  resolve: z.string().min(1),
  enabled: z.boolean().default(true),
  options: z.record(z.string(), z.unknown()).default({}),
});

export const configSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(8080),
  host: z.string().default('0.0.0.0'),
  /** Public base URL of the hub (pay links, callbacks). Defaults to http://localhost:<port>. */
  publicUrl: z.string().url().nullable().default(null),
  http: z.strictObject({
    /** Trust X-Forwarded-For/-Proto from a reverse proxy (only when one sits in front and overwrites them). */
    trustProxy: z.boolean().default(false),
    /** Header a trusted proxy sets to the buyer's country (ISO 3166-1 alpha-2), e.g. CF-IPCountry. */
    countryHeader: z.string().regex(/^[A-Za-z0-9-]{1,64}$/).nullable().default(null),
  }).prefault({}),
  database: z.strictObject({
    url: z.string().min(1).default('sqlite:./data/payhub.sqlite'),
    sqliteDriver: z.enum(['sqlite3', 'better-sqlite3']).default('sqlite3'),
    /** Pool size for PostgreSQL. */
    poolMax: z.number().int().min(1).max(100).default(10),
    /** SQLite: transactions share one durable COMMIT (see docs/performance.md); off commits each on its own. */
    groupCommit: z.boolean().default(true),
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** One line per request (off for benchmarks if you must). */
    requests: z.boolean().default(true),
  }).prefault({}),
  /** Operator token for /v1/admin/*. If null, one is generated into data/admin-token on first start. */
  adminToken: z.string().min(16).nullable().default(null),
  keys: z.strictObject({
    /** Key-encryption key: 32 bytes, base64. From PAYHUB_MASTER_KEY in production. */
    masterKey: z.string().nullable().default(null),
    /** File holding the master key; generated for development when no key is configured. */
    masterKeyFile: z.string().default('./data/master.key'),
    /** Earlier master keys by version, for reading old ciphertexts during rotation. */
    previous: z.record(z.string(), z.string()).default({}),
    /**
     * Key for keyed fingerprints (API-key lookups, card fingerprints): 32 bytes, base64. Must stay the same across
     * master-key rotations. When unset it is derived from the oldest master key configured.
     */
    fingerprintKey: z.string().nullable().default(null),
    /** Version number of masterKey. */
    version: z.number().int().min(1).default(1),
  }).prefault({}),
  webhooks: z.strictObject({
    allowPrivate: z.boolean().default(false),
    timeoutMs: z.number().int().min(100).max(60000).default(15000),
    /** Standard Webhooks retry schedule, seconds after the previous attempt. */
    schedule: z.array(seconds).default([5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]),
    /** Multiplier on the schedule (e.g. 0.001 in tests). */
    scheduleScale: z.number().positive().default(1),
  }).prefault({}),
  resolver: z.strictObject({
    /** Seconds between status polls of a pending/unknown attempt. */
    schedule: z.array(seconds).default([60, 300, 3600, 86400]),
    scheduleScale: z.number().positive().default(1),
  }).prefault({}),
  workers: z.strictObject({
    /** Run the webhook sender and the outcome resolver inside `payhub start`. */
    enabled: z.boolean().default(true),
    intervalMs: z.number().int().min(10).default(1000),
    batch: z.number().int().min(1).max(1000).default(50),
  }).prefault({}),
  orders: z.strictObject({
    /** Default lifetime of an unpaid order, seconds. */
    defaultExpiresIn: z.number().int().min(60).default(86400),
    currencies: z.array(z.string().regex(/^[A-Z]{3}$/)).default(['RUB', 'USD', 'EUR']),
  }).prefault({}),
  idempotency: z.strictObject({
    /** Idempotency keys are kept at least this long (then pruned by the worker). */
    retentionHours: z.number().int().min(24).default(72),
  }).prefault({}),
  demo: z.strictObject({
    /** Create a demo merchant on an empty database and print its test key. */
    enabled: z.boolean().default(true),
  }).prefault({}),
  plugins: z.array(pluginEntrySchema).default([]),
});

export type HubConfig = z.infer<typeof configSchema> & {
  /** Absolute directory relative paths are resolved against. */
  readonly rootDir: string;
  /** Which file(s) the config came from. */
  readonly sources: readonly string[];
};
export type PluginEntry = z.infer<typeof pluginEntrySchema>;
