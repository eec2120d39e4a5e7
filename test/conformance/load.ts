/**
 * Loads a bank-adapter plugin (path or npm name), starts it, and hands its adapter to the conformance kit.
 *
 * Host: `createTestHub` of @payhub/core when the core exports it (the plugin starts exactly as in a hub), otherwise a
 * minimal host that validates the options, calls register() with a child container and runs onReady()/onClose().
 * The minimal host has no database: plugins that need one must be run where createTestHub exists.
 * `PAYHUB_CONFORMANCE_HOST=mini|hub` forces one of them.
 */
import path from 'node:path';
import fs from 'node:fs';
import { container as globalContainer, instanceCachingFactory, type DependencyContainer, type InjectionToken } from 'tsyringe';
import pino from 'pino';
import * as core from '@payhub/core';
import type { BankAdapter, BankConformanceProfile, HubConfig, PayhubPlugin } from '@payhub/core';
import type { Knex } from 'knex';

export interface LoadedAdapterPlugin {
  readonly plugin: PayhubPlugin<unknown>;
  readonly profile: BankConformanceProfile;
  /** What the hub's config `resolve` should say to load the same module. */
  readonly resolve: string;
}

export interface StartedAdapter {
  readonly adapter: BankAdapter;
  readonly host: 'hub' | 'mini';
  close(): Promise<void>;
}

/** Resolves and imports the plugin module; reads its `conformance` profile export. */
export function loadAdapterPlugin(spec: string, cwd = process.cwd()): LoadedAdapterPlugin {
  // `plugins/x` is a path when it exists under cwd; `@scope/x` and bare names are npm packages otherwise.
  const isPath = spec.startsWith('.') || spec.startsWith('/') || /^[A-Za-z]:[\\/]/.test(spec)
    || (!spec.startsWith('@') && fs.existsSync(path.resolve(cwd, spec)));
  let file: string;
  try {
    file = isPath ? require.resolve(path.resolve(cwd, spec)) : require.resolve(spec, { paths: [cwd, __dirname] });
  } catch (e) {
    throw new Error(`cannot find plugin "${spec}": ${(e as Error).message.split('\n')[0]}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(file) as Record<string, unknown>;
  const candidate = (mod.default && typeof mod.default === 'object' && 'name' in (mod.default as object)) ? mod.default : mod.plugin;
  if (!candidate || typeof candidate !== 'object' || typeof (candidate as { name?: unknown }).name !== 'string') {
    throw new Error(`module "${spec}" does not export a plugin (default export or "plugin")`);
  }
  const profile = mod.conformance as BankConformanceProfile | undefined;
  if (!profile || typeof profile !== 'object') {
    throw new Error(`plugin "${spec}" does not export a conformance profile (export const conformance: BankConformanceProfile)`);
  }
  // The hub resolves paths from its root: hand it the absolute package folder (or file).
  const resolve = isPath ? (fs.statSync(path.resolve(cwd, spec)).isDirectory() ? path.resolve(cwd, spec) : file) : spec;
  return { plugin: candidate as PayhubPlugin<unknown>, profile, resolve };
}

type CreateTestHub = (opts?: { plugins?: Array<{ resolve: string; options?: Record<string, unknown> }>; config?: Record<string, unknown> }) => Promise<{
  container: DependencyContainer;
  close(): Promise<void>;
}>;

/** Starts the plugin and returns the adapter named by the profile's adapterId. */
export async function startAdapter(loaded: LoadedAdapterPlugin, extraOptions: Record<string, unknown> = {}): Promise<StartedAdapter> {
  const options = { ...loaded.profile.pluginOptions, ...extraOptions };
  const forced = process.env.PAYHUB_CONFORMANCE_HOST;
  const createTestHub = (core as unknown as { createTestHub?: CreateTestHub }).createTestHub;
  if (forced !== 'mini' && typeof createTestHub === 'function') {
    const hub = await createTestHub({ plugins: [{ resolve: loaded.resolve, options }] });
    try {
      return { adapter: pick(hub.container.resolveAll(core.TOKENS.BankAdapter), loaded.profile), host: 'hub', close: () => hub.close() };
    } catch (e) {
      await hub.close();
      throw e;
    }
  }
  if (forced === 'hub') throw new Error('PAYHUB_CONFORMANCE_HOST=hub but @payhub/core does not export createTestHub');
  return startMini(loaded.plugin, options, loaded.profile);
}

function pick(adapters: BankAdapter[], profile: BankConformanceProfile): BankAdapter {
  const a = adapters.find((x) => x.id === profile.adapterId);
  if (!a) throw new Error(`no bank adapter "${profile.adapterId}" registered (found: ${adapters.map((x) => x.id).join(', ') || 'none'})`);
  return a;
}

async function startMini(plugin: PayhubPlugin<unknown>, rawOptions: Record<string, unknown>, profile: BankConformanceProfile): Promise<StartedAdapter> {
  const root = globalContainer.createChildContainer();
  const child = root.createChildContainer();
  const logger = pino({ level: process.env.PAYHUB_CONFORMANCE_LOG ?? 'silent' });
  let options: unknown = rawOptions;
  if (plugin.options) {
    const r = plugin.options.safeParse(rawOptions);
    if (!r.success) throw new Error(`plugin "${plugin.name}" refused its options: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    options = r.data;
  }
  const config = { rootDir: process.cwd(), plugins: [] } as unknown as HubConfig;
  plugin.register?.({
    container: child,
    options,
    logger,
    config,
    provide<T>(token: InjectionToken<T>, provider: { useValue: T } | { useFactory: (c: DependencyContainer) => T }) {
      if ('useValue' in provider) root.register(token, { useValue: provider.useValue });
      else root.register(token, { useFactory: instanceCachingFactory(() => provider.useFactory(child)) });
    },
  });
  const lifecycle = { container: child, options, logger, config, db: undefined as unknown as Knex };
  await plugin.onReady?.(lifecycle);
  try {
    const adapter = pick(root.resolveAll(core.TOKENS.BankAdapter), profile);
    return { adapter, host: 'mini', close: async () => { await plugin.onClose?.(lifecycle); } };
  } catch (e) {
    await plugin.onClose?.(lifecycle);
    throw e;
  }
}
