import 'reflect-metadata';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import type { Knex } from 'knex';
import type { Logger, DestinationStream } from 'pino';
import type { HubConfig } from './config/schema';
import { publicUrl } from './config/load';
import { createLogger } from './logging';
import { checkDb, createDb, dbKind } from './db/knex';
import { migrate } from './db/migrate';
import { keyringFromConfig } from './crypto/keyring';
import { TOKENS } from './sdk/tokens';
import type { Clock, Keyring, Runtime } from './sdk/services';
import type { PayhubPlugin } from './host/contract';
import {
  closePlugins, loadPluginModules, migratePlugins, mountPluginRoutes, readyPlugins, registerPlugins, type LoadedPlugin,
} from './host/loader';
import { problemMiddleware } from './http/problem';
import { createMetrics, observe, requestId, type Metrics } from './http/observe';
import { coreMigrations } from './engine/migrations';
import { PaymentsEngine } from './engine/service';
import { WebhookSender } from './engine/webhooks';
import { adminAuth, merchantAuth } from './engine/auth';
import { idempotency } from './engine/idempotency';
import { mountEngineRoutes, requestInfo } from './engine/routes';
import { createMerchant, type CreatedMerchant } from './engine/merchants';
import { openApiDocument } from './http/openapi';
import { MerchantAdmin } from './engine/merchant-service';
import { ledgerService } from './engine/ledger';

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const CORE_VERSION: string = require('../../package.json').version;

export const systemClock: Clock = { now: () => new Date() };

export interface BuildOptions {
  clock?: Clock;
  /** Where log lines go (tests capture them). */
  logDestination?: DestinationStream;
  /** Plugins given as objects instead of config entries (tests). */
  extraPlugins?: PayhubPlugin<unknown>[];
  /** Milliseconds each plugin's onReady may take. */
  readyTimeoutMs?: number;
  /** Why the hub is built (passed to plugins' onReady/onClose): server (default), worker or cli. */
  role?: 'server' | 'worker' | 'cli';
  /** Called once if a development master key file is in use. */
  onDevKey?: (file: string) => void;
}

export interface Hub {
  readonly koa: Koa;
  readonly config: HubConfig;
  readonly container: DependencyContainer;
  readonly db: Knex;
  readonly logger: Logger;
  readonly keyring: Keyring;
  readonly engine: PaymentsEngine;
  readonly webhooks: WebhookSender;
  readonly plugins: readonly LoadedPlugin[];
  readonly metrics: Metrics;
  readonly router: Router;
  /** Starts listening; resolves with the bound port. */
  listen(port?: number, host?: string): Promise<number>;
  /** One pass of every worker (resolver, expiry, webhooks). */
  runWorkers(): Promise<number>;
  /** Runs the workers on an interval until close(). */
  startWorkers(): void;
  /** Creates the demo merchant on an empty database; returns it when created. */
  ensureDemoMerchant(): Promise<CreatedMerchant | null>;
  adminToken(): string;
  /** Stop accepting, finish in-flight requests, stop workers, close plugins (reverse order), close the database. */
  close(): Promise<void>;
}

/** Admin token: from config, or generated once into data/admin-token (printed by `payhub start`). */
function resolveAdminToken(config: HubConfig): string {
  if (config.adminToken) return config.adminToken;
  const file = path.resolve(config.rootDir, 'data', 'admin-token');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const t = `adm_${crypto.randomBytes(24).toString('base64url')}`;
  try {
    fs.writeFileSync(file, t + '\n', { mode: 0o600, flag: 'wx' });
    return t;
  } catch {
    return fs.readFileSync(file, 'utf8').trim();
  }
}

/**
 * Builds the whole hub: database, migrations, plugins, HTTP app. Never listens. On any failure it releases what it
 * opened (plugins closed in reverse, database destroyed) and rethrows the coded error.
 */
export async function buildApp(config: HubConfig, opts: BuildOptions = {}): Promise<Hub> {
  const logger = createLogger(config.log.level, opts.logDestination);
  const clock = opts.clock ?? systemClock;
  const keyring = keyringFromConfig(config, opts.onDevKey);
  const db = createDb({
    url: config.database.url, sqliteDriver: config.database.sqliteDriver, poolMax: config.database.poolMax,
    groupCommit: config.database.groupCommit, rootDir: config.rootDir,
  });
  let loaded: LoadedPlugin[] = [];
  let server: http.Server | null = null;
  let listeningPort: number | null = null;
  const runtime: Runtime = { baseUrl: () => publicUrl(config, listeningPort ?? undefined) };
  try {
    await checkDb(db, config.database.url);
    const container = rootContainer.createChildContainer();
    container.register(TOKENS.Config, { useValue: config });
    container.register(TOKENS.Db, { useValue: db });
    container.register(TOKENS.Logger, { useValue: logger });
    container.register(TOKENS.Clock, { useValue: clock });
    container.register(TOKENS.Keyring, { useValue: keyring });
    container.register(TOKENS.Runtime, { useValue: runtime });

    const found = await loadPluginModules(config, opts.extraPlugins);
    loaded = registerPlugins(found, { root: container, config, logger, coreVersion: CORE_VERSION });

    const metrics = createMetrics();
    const webhooks = new WebhookSender({ db, keyring, clock, config, logger });
    container.register(TOKENS.Plugins, { useValue: () => pluginList(loaded) });
    const engine = new PaymentsEngine({
      db, keyring, clock, config, runtime, logger,
      methods: () => (container.isRegistered(TOKENS.PaymentMethod) ? container.resolveAll(TOKENS.PaymentMethod) : []),
      riskChecks: () => (container.isRegistered(TOKENS.RiskCheck) ? container.resolveAll(TOKENS.RiskCheck) : []),
      bankContracts: () => (container.isRegistered(TOKENS.BankContracts) ? container.resolve(TOKENS.BankContracts) : null),
      deliverWebhook: (id) => webhooks.deliver(id),
      onAttempt: (method, status) => metrics.payments.inc({ method, status }),
    });
    container.register(TOKENS.Payments, { useValue: engine });
    container.register(TOKENS.Ledger, { useValue: ledgerService(db, clock) });
    const requireMerchant = merchantAuth(db, keyring, clock);
    container.register(TOKENS.Merchants, { useValue: new MerchantAdmin({ db, keyring, clock, onChange: () => { requireMerchant.invalidate(); engine.invalidateCaches(); } }) });

    await migrate(db, 'core', coreMigrations);
    await migratePlugins(db, loaded);

    const koa = new Koa({ proxy: config.http.trustProxy });
    koa.silent = true;
    const router = new Router();
    const adminToken = resolveAdminToken(config);
    const requireAdmin = adminAuth(() => adminToken);
    const idempotent = idempotency(db, keyring, clock);
    let ready = false;

    router.get('/health', (ctx) => {
      ctx.body = { status: 'ok' };
    });
    router.get('/ready', async (ctx) => {
      const checks: Record<string, string> = {};
      try {
        await db.raw('select 1');
        checks.database = 'ok';
      } catch {
        checks.database = 'unreachable';
      }
      for (const lp of loaded) checks[`plugin:${lp.plugin.name}`] = lp.status;
      const ok = ready && checks.database === 'ok' && loaded.every((l) => l.status === 'ready');
      ctx.status = ok ? 200 : 503;
      ctx.body = { status: ok ? 'ready' : 'not_ready', checks };
    });
    router.get('/metrics', async (ctx) => {
      ctx.type = metrics.registry.contentType;
      ctx.body = await metrics.registry.metrics();
    });
    router.get('/openapi.json', (ctx) => {
      ctx.body = openApiDocument(runtime.baseUrl(), loaded.filter((l) => l.plugin.openapi).map((l) => ({ plugin: l.plugin.name, paths: l.plugin.openapi! })));
    });
    router.get('/v1/admin/plugins', requireAdmin, (ctx) => {
      ctx.body = { object: 'list', data: pluginList(loaded) };
    });

    mountEngineRoutes(router, {
      engine, webhooks, db, keyring, clock, runtime, requireMerchant, requireAdmin, idempotent,
      hasPayPage: () => router.stack.some((l) => l.path === '/pay/:order_id' || l.path === '/pay/:id'),
      countryHeader: config.http.countryHeader,
    });
    mountPluginRoutes(router, loaded, {
      config, requireMerchant, requireAdmin, idempotent, requestInfo: (ctx) => requestInfo(ctx, runtime, config.http.countryHeader),
    });

    koa.use(requestId());
    koa.use(observe(logger, metrics, config.log.requests));
    koa.use(problemMiddleware(logger));
    koa.use(bodyParser({
      enableTypes: ['json', 'form', 'text'], jsonLimit: '256kb', formLimit: '256kb', textLimit: '256kb',
      encoding: 'utf-8', jsonStrict: false,
      onError: (err: Error) => {
        const e = err as Error & { status?: number; type?: string };
        throw Object.assign(err, { status: e.status ?? 400, type: err instanceof SyntaxError ? 'entity.parse.failed' : e.type });
      },
    }));
    koa.use(router.routes());
    koa.use(router.allowedMethods());

    await readyPlugins(loaded, config, db, opts.readyTimeoutMs ?? 15_000, opts.role ?? 'server');
    ready = true;

    let timer: NodeJS.Timeout | null = null;
    let workerRun: Promise<unknown> | null = null;
    let closed = false;
    const runWorkers = async () => (await engine.resolverPass()) + (await webhooks.pass());

    const hub: Hub = {
      koa, config, container, db, logger, keyring, engine, webhooks, metrics, router,
      plugins: loaded,
      adminToken: () => adminToken,
      async listen(port = config.port, host = config.host) {
        server = http.createServer(koa.callback());
        server.keepAliveTimeout = 65_000;
        await new Promise<void>((resolve, reject) => {
          server!.once('error', reject);
          server!.listen(port, host, () => resolve());
        });
        listeningPort = (server.address() as AddressInfo).port;
        return listeningPort;
      },
      runWorkers,
      startWorkers() {
        if (timer) return;
        const tick = () => {
          if (closed) return;
          workerRun = runWorkers()
            .catch((e) => logger.error({ err: (e as Error).message }, 'worker pass failed'))
            .finally(() => {
              workerRun = null;
              if (!closed) timer = setTimeout(tick, config.workers.intervalMs);
            });
        };
        timer = setTimeout(tick, config.workers.intervalMs);
      },
      async ensureDemoMerchant() {
        const any = await db('merchants').first('id');
        if (any) return null;
        const m = await createMerchant(db, keyring, clock.now().toISOString(), { name: 'Demo shop', mode: 'test', directCardInput: true, demo: true });
        // Methods backed by an emulator configure themselves for the demo merchant, so every method can be tried.
        for (const method of engine.methods().values()) {
          const settings = method.demoSettings?.();
          if (!settings) continue;
          await db('method_settings').insert({
            merchant_id: m.id, method: method.id, enabled: true, updated_at: clock.now().toISOString(),
            settings_enc: keyring.encrypt(JSON.stringify(settings), `method:${m.id}:${method.id}`),
          });
        }
        return m;
      },
      async close() {
        if (closed) return;
        closed = true;
        if (timer) clearTimeout(timer);
        if (server) {
          const s = server;
          await new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeIdleConnections?.();
          });
        }
        await workerRun;
        await closePlugins(loaded, config, db, logger, opts.role ?? 'server');
        await db.destroy();
      },
    };
    return hub;
  } catch (e) {
    await closePlugins(loaded.filter((l) => l.status === 'ready'), config, db, logger).catch(() => undefined);
    await db.destroy().catch(() => undefined);
    throw e;
  }
}

export function pluginList(loaded: readonly LoadedPlugin[]) {
  return loaded.map((l) => ({
    name: l.plugin.name, version: l.plugin.version, kind: l.plugin.kind ?? 'other', core: l.plugin.core,
    status: l.status, origin: l.entry.resolve, description: l.plugin.description ?? null,
  }));
}

export { dbKind };
