import type { DependencyContainer, InjectionToken, Provider } from 'tsyringe';
import type { Knex } from 'knex';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { RequestInfo } from '../sdk/payments';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import type { HubConfig } from '../config/schema';

/** Kinds shown by `payhub plugins`; informative only. */
export type PluginKind =
  | 'payment-method' | 'bank-adapter' | 'wallet-bridge' | 'risk' | 'page' | 'dashboard' | 'other';

export interface RegisterContext<O> {
  /** This plugin's own child container; resolve core services from it. */
  readonly container: DependencyContainer;
  readonly options: O;
  readonly logger: Logger;
  readonly config: HubConfig;
  /**
   * Registers a provider on the application's root container, so the core and other plugins see it.
   * Use it for extension points (TOKENS.PaymentMethod, TOKENS.BankAdapter, TOKENS.RiskCheck).
   * Factories run lazily, after every plugin has registered.
   */
  provide<T>(token: InjectionToken<T>, provider: { useValue: T } | { useFactory: (c: DependencyContainer) => T }): void;
}

export interface RouteContext<O> {
  readonly container: DependencyContainer;
  readonly options: O;
  readonly logger: Logger;
  readonly config: HubConfig;
  /** Middleware: requires `Authorization: Bearer sk_…`; sets ctx.state.merchant (MerchantView). */
  readonly requireMerchant: Middleware;
  /** Middleware: requires the operator's admin token. */
  readonly requireAdmin: Middleware;
  /** Middleware: honours Idempotency-Key on a POST (store and replay the response). */
  readonly idempotent: Middleware;
  /** The buyer's request facts for PaymentsService.startAttempt (ip per http.trustProxy, country per http.countryHeader). */
  requestInfo(ctx: Context): RequestInfo;
}

export interface LifecycleContext<O> {
  /**
   * Why the hub was built: `server` (payhub start: serves HTTP), `worker` (payhub worker: background work only) or
   * `cli` (a one-off command); absent means `server`. Open listeners of your own only for `server`.
   */
  readonly role?: 'server' | 'worker' | 'cli';
  readonly container: DependencyContainer;
  readonly options: O;
  readonly logger: Logger;
  readonly config: HubConfig;
  readonly db: Knex;
}

/** A knex migration of a plugin: its history is kept in its own table. */
export interface PluginMigration {
  readonly name: string;
  up(knex: Knex): Promise<void>;
  down?(knex: Knex): Promise<void>;
}

/** A CLI command a plugin adds to `payhub` (e.g. `payhub sandbox-bank`). */
export interface PluginCommand<O> {
  readonly name: string;
  readonly description: string;
  run(args: string[], ctx: LifecycleContext<O>): Promise<number | void>;
  /** When true the command needs a database and migrations (default true). */
  readonly needsDb?: boolean;
}

/**
 * The contract every Payhub plugin implements. Export it as the module's default (or `plugin`) export,
 * built with definePlugin().
 */
export interface PayhubPlugin<O = Record<string, unknown>> {
  /** Unique, stable name: used in dependencies, logs and its migration table. */
  readonly name: string;
  /** The plugin's own semver. */
  readonly version: string;
  /** Semver range of @payhub/core it works with, e.g. "^1.0.0". */
  readonly core: string;
  readonly kind?: PluginKind;
  readonly description?: string;
  /** Plugins that must be loaded before this one. */
  readonly dependencies?: readonly string[];
  /** Options schema; validated before register(). */
  readonly options?: ZodType<O>;
  /** Own migrations, applied in order, history in `knex_migrations__<name>`. */
  readonly migrations?: readonly PluginMigration[];
  /** Registration only: no I/O. */
  register?(ctx: RegisterContext<O>): void;
  /** Mount HTTP routes (paths are absolute: the plugin owns its prefix). */
  routes?(router: Router, ctx: RouteContext<O>): void;
  /** After migrations: connect, start servers and workers. Bounded by a timeout. */
  onReady?(ctx: LifecycleContext<O>): Promise<void>;
  /** Release resources; called in reverse load order. */
  onClose?(ctx: LifecycleContext<O>): Promise<void>;
  /** Extra CLI commands. */
  readonly commands?: ReadonlyArray<PluginCommand<O>>;
  /**
   * OpenAPI 3.1 path items of the routes this plugin mounts (merged into GET /openapi.json), e.g.
   * `{ '/v1/accounts': { post: { summary, requestBody, responses } } }`. Schemas may $ref the core's components.
   */
  readonly openapi?: Readonly<Record<string, Record<string, unknown>>>;
}

/** Declares a plugin; returns it frozen. */
export function definePlugin<O = Record<string, unknown>>(plugin: PayhubPlugin<O>): PayhubPlugin<O> {
  return Object.freeze({ ...plugin });
}

export type { Provider };
