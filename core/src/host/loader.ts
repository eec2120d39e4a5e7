import path from 'node:path';
import fs from 'node:fs';
import type { DependencyContainer, InjectionToken } from 'tsyringe';
import { instanceCachingFactory } from 'tsyringe';
import type { Logger } from 'pino';
import type { Knex } from 'knex';
import type Router from '@koa/router';
import { ERR, StartupError } from '../errors';
import type { HubConfig, PluginEntry } from '../config/schema';
import type { LifecycleContext, PayhubPlugin, RouteContext } from './contract';
import { assertPluginShape, orderPlugins } from './graph';
import { migrate } from '../db/migrate';

export interface LoadedPlugin {
  readonly plugin: PayhubPlugin<unknown>;
  readonly entry: PluginEntry;
  /** Where it was loaded from (absolute path of the module). */
  readonly origin: string;
  readonly container: DependencyContainer;
  readonly options: unknown;
  readonly logger: Logger;
  status: 'registered' | 'migrated' | 'ready' | 'failed' | 'closed';
}

/** Resolves a config entry (npm package name or path) to a module file. */
export function resolvePluginModule(resolve: string, rootDir: string): string {
  const isPath = resolve.startsWith('.') || resolve.startsWith('/') || /^[A-Za-z]:[\\/]/.test(resolve);
  try {
    if (isPath) {
      const abs = path.resolve(rootDir, resolve);
      if (!fs.existsSync(abs)) throw new Error('no such file or folder');
      return require.resolve(abs);
    }
    return require.resolve(resolve, { paths: [rootDir, process.cwd()] });
  } catch (e) {
    throw new StartupError(ERR.PLUGIN_NOT_FOUND, `plugin "${resolve}" cannot be found (${isPath ? 'path' : 'npm package'}): ${(e as Error).message.split('\n')[0]}`, e);
  }
}

async function importPlugin(file: string, resolve: string): Promise<PayhubPlugin<unknown>> {
  let mod: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(file);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_REQUIRE_ESM') {
      mod = (await import(file)) as Record<string, unknown>;
    } else {
      throw new StartupError(ERR.PLUGIN_INVALID, `plugin "${resolve}" failed to load: ${(e as Error).message}`, e);
    }
  }
  const candidate = (mod.default && typeof mod.default === 'object' && 'name' in (mod.default as object))
    ? mod.default
    : (mod.plugin ?? (mod.default as Record<string, unknown> | undefined)?.default ?? mod);
  assertPluginShape(candidate, resolve);
  return candidate;
}

/** Imports, validates and orders the enabled plugins of the config. No I/O beyond reading modules. */
export async function loadPluginModules(config: HubConfig, extra: readonly PayhubPlugin<unknown>[] = []) {
  const found: Array<{ plugin: PayhubPlugin<unknown>; entry: PluginEntry; origin: string }> = [];
  for (const entry of config.plugins.filter((p) => p.enabled)) {
    const file = resolvePluginModule(entry.resolve, config.rootDir);
    found.push({ plugin: await importPlugin(file, entry.resolve), entry, origin: file });
  }
  for (const plugin of extra) found.push({ plugin, entry: { resolve: plugin.name, enabled: true, options: {} }, origin: '(inline)' });
  return found;
}

/** Validates a plugin's options; lists every bad key without echoing values. */
export function validateOptions(plugin: PayhubPlugin<unknown>, raw: Record<string, unknown>): unknown {
  if (!plugin.options) return raw;
  const r = plugin.options.safeParse(raw);
  if (r.success) return r.data;
  const lines = r.error.issues.flatMap((i) => (i.code === 'unrecognized_keys'
    ? i.keys.map((k) => `  - ${['options', ...i.path.map(String), k].join('.')}: unknown key`)
    : [`  - ${['options', ...i.path.map(String)].join('.')}: ${i.message}`]));
  throw new StartupError(ERR.PLUGIN_OPTIONS_INVALID, `plugin "${plugin.name}" has invalid options:\n${lines.join('\n')}`);
}

export interface HostDeps {
  root: DependencyContainer;
  config: HubConfig;
  logger: Logger;
  coreVersion: string;
}

/** Orders the plugins, validates options and calls register() on each in its own child container. */
export function registerPlugins(
  found: Array<{ plugin: PayhubPlugin<unknown>; entry: PluginEntry; origin: string }>,
  deps: HostDeps,
): LoadedPlugin[] {
  const ordered = orderPlugins(found.map((f) => f.plugin), deps.coreVersion);
  const loaded: LoadedPlugin[] = [];
  for (const plugin of ordered) {
    const f = found.find((x) => x.plugin === plugin)!;
    const options = validateOptions(plugin, f.entry.options);
    const container = deps.root.createChildContainer();
    const logger = deps.logger.child({ plugin: plugin.name });
    const lp: LoadedPlugin = { plugin, entry: f.entry, origin: f.origin, container, options, logger, status: 'registered' };
    try {
      plugin.register?.({
        container,
        options,
        logger,
        config: deps.config,
        provide<T>(token: InjectionToken<T>, provider: { useValue: T } | { useFactory: (c: DependencyContainer) => T }) {
          if ('useValue' in provider) deps.root.register(token, { useValue: provider.useValue });
          else deps.root.register(token, { useFactory: instanceCachingFactory(() => provider.useFactory(container)) });
        },
      });
    } catch (e) {
      throw new StartupError(ERR.PLUGIN_REGISTER_FAILED, `plugin "${plugin.name}" failed to register: ${(e as Error).message}`, e);
    }
    loaded.push(lp);
  }
  return loaded;
}

export async function migratePlugins(db: Knex, loaded: LoadedPlugin[]): Promise<void> {
  for (const lp of loaded) {
    try {
      await migrate(db, lp.plugin.name, lp.plugin.migrations ?? []);
      lp.status = 'migrated';
    } catch (e) {
      lp.status = 'failed';
      throw new StartupError(ERR.PLUGIN_MIGRATION_FAILED, `plugin "${lp.plugin.name}" migration failed: ${(e as Error).message}`, e);
    }
  }
}

export function mountPluginRoutes(router: Router, loaded: LoadedPlugin[], base: Omit<RouteContext<unknown>, 'container' | 'options' | 'logger'>): void {
  for (const lp of loaded) {
    lp.plugin.routes?.(router, { ...base, container: lp.container, options: lp.options, logger: lp.logger });
  }
}

export function lifecycleContext(lp: LoadedPlugin, config: HubConfig, db: Knex, role: NonNullable<LifecycleContext<unknown>['role']> = 'server'): LifecycleContext<unknown> {
  return { role, container: lp.container, options: lp.options, logger: lp.logger, config, db };
}

/** Runs onReady of each plugin in order, each bounded by timeoutMs. */
export async function readyPlugins(loaded: LoadedPlugin[], config: HubConfig, db: Knex, timeoutMs: number, role: LifecycleContext<unknown>['role'] = 'server'): Promise<void> {
  for (const lp of loaded) {
    if (!lp.plugin.onReady) {
      lp.status = 'ready';
      continue;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StartupError(ERR.PLUGIN_READY_TIMEOUT,
        `plugin "${lp.plugin.name}" did not become ready within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([lp.plugin.onReady(lifecycleContext(lp, config, db, role)), timeout]);
      lp.status = 'ready';
    } catch (e) {
      lp.status = 'failed';
      if (e instanceof StartupError) throw e;
      throw new StartupError(ERR.PLUGIN_READY_FAILED, `plugin "${lp.plugin.name}" failed in onReady: ${(e as Error).message}`, e);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Runs onClose in reverse load order; errors are logged, never thrown, so every plugin gets closed. */
export async function closePlugins(loaded: LoadedPlugin[], config: HubConfig, db: Knex, logger: Logger, role: LifecycleContext<unknown>['role'] = 'server'): Promise<string[]> {
  const closed: string[] = [];
  for (const lp of [...loaded].reverse()) {
    if (lp.status === 'closed') continue;
    try {
      await lp.plugin.onClose?.(lifecycleContext(lp, config, db, role));
    } catch (e) {
      logger.error({ plugin: lp.plugin.name, err: (e as Error).message }, 'plugin onClose failed');
    }
    lp.status = 'closed';
    closed.push(lp.plugin.name);
  }
  return closed;
}
