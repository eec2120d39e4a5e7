import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import knexFactory, { type Knex } from 'knex';
import type { DependencyContainer } from 'tsyringe';
import { loadConfig, PROJECT_ROOT } from './config/load';
import type { HubConfig } from './config/schema';
import { buildApp, type Hub } from './app';
import { createMerchant } from './engine/merchants';
import type { Clock, PaymentsService } from './sdk/services';
import type { Mode } from './sdk/payments';
import type { PayhubPlugin } from './host/contract';

/** A clock that runs with real time plus an offset tests can move. */
export class ManualClock implements Clock {
  private offset = 0;
  now(): Date {
    return new Date(Date.now() + this.offset);
  }
  advance(ms: number): void {
    this.offset += ms;
  }
  set(d: Date): void {
    this.offset = d.getTime() - Date.now();
  }
}

export type TestDbKind = 'sqlite' | 'postgres';

export function testDbKind(): TestDbKind {
  const v = (process.env.PAYHUB_TEST_DB ?? 'sqlite').toLowerCase();
  if (v === 'postgres' || v === 'pg' || v === 'postgresql') return 'postgres';
  return 'sqlite';
}

export const TEST_PG_ADMIN_URL = process.env.PAYHUB_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh, empty database for one test hub: a new SQLite file, or a new PostgreSQL database. */
export async function createTestDatabase(kind: TestDbKind = testDbKind()): Promise<{ url: string; drop(): Promise<void> }> {
  if (kind === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-test-'));
    return { url: `sqlite:${path.join(dir, 'hub.sqlite')}`, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const name = `payhub_t_${crypto.randomBytes(6).toString('hex')}`;
  const admin = knexFactory({ client: 'pg', connection: TEST_PG_ADMIN_URL, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`create database ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = TEST_PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  return {
    url,
    drop: async () => {
      const a = knexFactory({ client: 'pg', connection: TEST_PG_ADMIN_URL, pool: { min: 0, max: 1 } });
      try {
        await a.raw(`drop database if exists ${name} with (force)`);
      } finally {
        await a.destroy();
      }
    },
  };
}

export interface TestHubOptions {
  plugins?: Array<{ resolve: string; options?: Record<string, unknown> }>;
  /** Plugin objects (not modules). */
  inlinePlugins?: PayhubPlugin<unknown>[];
  /** Deep-merged config overrides. */
  config?: Record<string, unknown>;
  /** Reuse an existing database URL (restarts); by default a fresh one is made and dropped on close. */
  databaseUrl?: string;
}

export interface TestApiResponse {
  status: number;
  headers: Record<string, string>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export interface TestHub {
  readonly url: string;
  readonly hub: Hub;
  readonly db: Knex;
  readonly kind: TestDbKind;
  readonly container: DependencyContainer;
  readonly config: HubConfig;
  readonly clock: ManualClock;
  readonly payments: PaymentsService;
  readonly databaseUrl: string;
  /** Every log line the hub wrote (JSON strings). */
  readonly logs: string[];
  createMerchant(opts?: { name?: string; currencies?: string[]; notifyUrl?: string; directCardInput?: boolean; mode?: Mode; bankAdapter?: string; feeBps?: number }): Promise<{ id: string; key: string; testKey: string; webhookSecret: string; formKey: string }>;
  api(method: string, path: string, opts?: { key?: string; body?: unknown; headers?: Record<string, string>; form?: Record<string, string>; raw?: string }): Promise<TestApiResponse>;
  runWorkers(): Promise<void>;
  /** Closes the hub; keeps the database when keepDatabase is true (to restart on it). */
  close(opts?: { keepDatabase?: boolean }): Promise<void>;
}

/** Starts a real hub on 127.0.0.1 (random port) over a fresh database. */
export async function createTestHub(opts: TestHubOptions = {}): Promise<TestHub> {
  const kind = opts.databaseUrl ? (opts.databaseUrl.startsWith('sqlite:') ? 'sqlite' : 'postgres') : testDbKind();
  const dbase = opts.databaseUrl ? { url: opts.databaseUrl, drop: async () => undefined } : await createTestDatabase(kind);
  const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-cfg-'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      if (logs.length < 50_000) logs.push(String(chunk).trimEnd());
      cb();
    },
  });
  const config = loadConfig({
    rootDir: PROJECT_ROOT,
    configDir: emptyDir,
    env: {},
    overrides: deepMergeOverrides({
      port: 0, host: '127.0.0.1',
      database: { url: dbase.url },
      log: { level: 'info', requests: true },
      adminToken: `adm_test_${crypto.randomBytes(12).toString('hex')}`,
      keys: { masterKey: crypto.randomBytes(32).toString('base64') },
      webhooks: { allowPrivate: true, timeoutMs: 3000, scheduleScale: 0.001 },
      workers: { enabled: false },
      demo: { enabled: false },
      plugins: (opts.plugins ?? []).map((p) => ({ resolve: p.resolve, options: p.options ?? {} })),
    }, opts.config ?? {}),
  });
  const clock = new ManualClock();
  let hub: Hub;
  try {
    hub = await buildApp(config, { clock, logDestination: sink, extraPlugins: opts.inlinePlugins });
  } catch (e) {
    await dbase.drop().catch(() => undefined);
    fs.rmSync(emptyDir, { recursive: true, force: true });
    throw e;
  }
  const port = await hub.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  return {
    url, hub, db: hub.db, kind, container: hub.container, config, clock, payments: hub.engine, logs, databaseUrl: dbase.url,
    async createMerchant(o = {}) {
      const m = await createMerchant(hub.db, hub.keyring, clock.now().toISOString(), {
        name: o.name ?? 'Test shop', mode: o.mode ?? 'test', notifyUrl: o.notifyUrl ?? null, currencies: o.currencies,
        directCardInput: o.directCardInput, bankAdapter: o.bankAdapter, feeBps: o.feeBps,
      });
      const key = m.live_secret_key ?? m.test_secret_key;
      return { id: m.id, key, testKey: m.test_secret_key, webhookSecret: m.webhook_secret, formKey: m.form_key };
    },
    async api(method, p, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.key) headers.authorization = `Bearer ${o.key}`;
      let body: string | undefined;
      if (o.raw !== undefined) {
        body = o.raw;
        headers['content-type'] ??= 'application/json';
      } else if (o.form) {
        body = new URLSearchParams(o.form).toString();
        headers['content-type'] = 'application/x-www-form-urlencoded';
      } else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] = 'application/json';
      }
      const res = await fetch(url + p, { method, headers, body, redirect: 'manual' });
      const text = await res.text();
      let parsed: unknown = text;
      if (/json/.test(res.headers.get('content-type') ?? '')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body: parsed, text };
    },
    async runWorkers() {
      await hub.runWorkers();
    },
    async close(c = {}) {
      await hub.close();
      if (!c.keepDatabase) await dbase.drop().catch(() => undefined);
      fs.rmSync(emptyDir, { recursive: true, force: true });
    },
  };
}

function deepMergeOverrides(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
      ? deepMergeOverrides(cur as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out;
}
