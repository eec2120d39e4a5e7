import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { loadConfig } from './config/load';
import type { HubConfig } from './config/schema';
import { buildApp, CORE_VERSION, pluginList, type Hub } from './app';
import { ERR, PayhubError, StartupError } from './errors';
import { createMerchant } from './engine/merchants';
import { loadPluginModules, registerPlugins, resolvePluginModule, lifecycleContext } from './host/loader';
import { assertPluginShape, orderPlugins } from './host/graph';
import { container as rootContainer } from 'tsyringe';
import { createLogger } from './logging';
import { rewrapCoreSecrets } from './crypto/rotate';
import type { AesKeyring } from './crypto/keyring';

const HELP = `payhub — self-hosted payment hub

Usage: payhub <command> [options]

  start                         run the hub (HTTP API, pages, workers)
  worker                        run only the background workers (resolver, expiry, webhooks)
  migrate                       apply core and plugin migrations
  plugins [--json]              list configured plugins (name, version, kind, status)
  plugins add <npm-name|path>   add a plugin to config/local.yaml after checking it
  plugins remove <name>         remove a plugin from config/local.yaml
  merchants create --name NAME [--notify-url URL] [--mode test|live] [--json]
  keys rotate                   re-wrap secrets and card data keys under the current master key
  <plugin command> ...          commands added by plugins (see "payhub help")

Environment: PORT, DATABASE_URL, PAYHUB_CONFIG, LOG_LEVEL, PAYHUB_ADMIN_TOKEN, PAYHUB_MASTER_KEY,
PAYHUB_PUBLIC_URL, PAYHUB_WEBHOOKS_ALLOW_PRIVATE, PAYHUB_SQLITE_DRIVER.`;

function out(s: string) {
  process.stdout.write(s + '\n');
}

function fail(e: unknown): number {
  if (e instanceof StartupError || (e instanceof PayhubError && e.code.startsWith('PAYHUB_ERR'))) process.stderr.write(`${e.code}: ${e.message}\n`);
  else if (e instanceof PayhubError) process.stderr.write(`${e.code}: ${e.message}${e.fields.length ? ' (' + e.fields.map((f) => `${f.field}: ${f.message}`).join('; ') + ')' : ''}\n`);
  else process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}

const devKeyWarning = (file: string) => {
  process.stderr.write(`\n  WARNING: no master key configured (PAYHUB_MASTER_KEY); using the DEVELOPMENT key file ${file}.\n  It protects card data and secrets at rest: never use it in production.\n\n`);
};

async function withHub<T>(config: HubConfig, fn: (hub: Hub) => Promise<T>): Promise<T> {
  const hub = await buildApp(config, { onDevKey: devKeyWarning, role: 'cli' });
  try {
    return await fn(hub);
  } finally {
    await hub.close();
  }
}

async function start(config: HubConfig, workersOnly = false): Promise<number> {
  const hub = await buildApp(config, { onDevKey: devKeyWarning, role: workersOnly ? 'worker' : 'server' });
  let port = 0;
  if (!workersOnly) {
    try {
      port = await hub.listen();
    } catch (e) {
      await hub.close();
      throw new StartupError('PAYHUB_ERR_LISTEN', `cannot listen on ${config.host}:${config.port}: ${(e as Error).message}`, e);
    }
  }
  if (config.workers.enabled || workersOnly) hub.startWorkers();
  const base = config.publicUrl ?? `http://localhost:${port}`;
  if (!workersOnly) {
    out(`Payhub ${CORE_VERSION} listening on ${base} (database: ${config.database.url.startsWith('sqlite:') ? config.database.url : 'postgres'})`);
    out(`Plugins: ${hub.plugins.map((p) => `${p.plugin.name}@${p.plugin.version}`).join(', ') || 'none'}`);
    out(`Operator token: ${config.adminToken ? '(from config)' : path.resolve(config.rootDir, 'data', 'admin-token')}`);
    if (config.demo.enabled) await printDemo(hub, config, base);
  } else {
    out(`Payhub ${CORE_VERSION} workers running`);
  }
  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    hub.logger.info({ signal: sig }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    await hub.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  return new Promise<number>(() => undefined);
}

/** On an empty database: a demo merchant; its test key is kept in data/demo-merchant.json to print again. */
async function printDemo(hub: Hub, config: HubConfig, base: string): Promise<void> {
  // One file per database, so a hub started on another database never shows a key that does not exist there.
  const tag = crypto.createHash('sha256').update(config.database.url).digest('hex').slice(0, 10);
  const file = path.resolve(config.rootDir, 'data', `demo-merchant-${tag}.json`);
  const created = await hub.ensureDemoMerchant();
  if (created) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify({ id: created.id, test_secret_key: created.test_secret_key, form_key: created.form_key }, null, 2), { mode: 0o600 });
  }
  let demo: { id: string; test_secret_key: string } | null = null;
  try {
    demo = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (demo && !(await hub.db('merchants').where({ id: demo.id }).first())) demo = null;
  } catch {
    demo = null;
  }
  if (demo) {
    out('');
    out(`Demo merchant: ${demo.id}`);
    out(`Test secret key: ${demo.test_secret_key}`);
    if (hub.router.stack.some((l) => l.path === '/demo')) out(`Demo shop: ${base}/demo`);
    out(`Try: curl -s -X POST ${base}/v1/orders -H "Authorization: Bearer ${demo.test_secret_key}" -H "Content-Type: application/json" -d '{"order_number":"demo-1","amount":19900,"currency":"RUB"}'`);
    out('');
  }
}

/** The file `plugins add|remove` edits: the one named by PAYHUB_CONFIG, else config/local.yaml. */
function localConfigFile(config: HubConfig): string {
  return process.env.PAYHUB_CONFIG ? path.resolve(config.rootDir, process.env.PAYHUB_CONFIG) : path.join(config.rootDir, 'config', 'local.yaml');
}

function readLocal(file: string): Record<string, unknown> {
  if (!fs.existsSync(file)) return {};
  const text = fs.readFileSync(file, 'utf8');
  return (file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text)) ?? {};
}

function writeLocal(file: string, value: Record<string, unknown>): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, file.endsWith('.json') ? JSON.stringify(value, null, 2) + '\n' : YAML.stringify(value));
}

async function pluginsCommand(config: HubConfig, args: string[]): Promise<number> {
  const sub = args[0];
  if (sub === 'add' || sub === 'remove') {
    const target = args[1];
    if (!target) throw new StartupError(ERR.CONFIG_INVALID, `usage: payhub plugins ${sub} <${sub === 'add' ? 'npm-name|path' : 'name'}>`);
    const file = localConfigFile(config);
    const local = readLocal(file);
    const current = config.plugins;
    if (sub === 'add') {
      const modFile = resolvePluginModule(target, config.rootDir);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(modFile);
      const plugin = mod.default ?? mod.plugin ?? mod;
      assertPluginShape(plugin, target);
      const found = await loadPluginModules({ ...config, plugins: current.filter((p) => p.enabled) });
      if (found.some((f) => f.plugin.name === plugin.name)) throw new StartupError(ERR.PLUGIN_DUPLICATE, `plugin "${plugin.name}" is already configured`);
      orderPlugins([...found.map((f) => f.plugin), plugin], CORE_VERSION);
      local.plugins = [...current, { resolve: target, enabled: true, options: {} }];
      writeLocal(file, local);
      out(`added plugin "${plugin.name}" ${plugin.version} (${target}) to ${file}`);
      return 0;
    }
    const found = await loadPluginModules(config);
    const victim = found.find((f) => f.plugin.name === target);
    if (!victim) throw new StartupError(ERR.PLUGIN_NOT_FOUND, `plugin "${target}" is not configured`);
    const dependents = found.filter((f) => f.plugin.dependencies?.includes(target)).map((f) => f.plugin.name);
    if (dependents.length) throw new StartupError(ERR.PLUGIN_DEPENDENCY_MISSING, `plugin "${target}" is needed by ${dependents.map((d) => `"${d}"`).join(', ')}`);
    local.plugins = current.filter((p) => p !== victim.entry);
    writeLocal(file, local);
    out(`removed plugin "${target}" from ${file}`);
    return 0;
  }
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, allowPositionals: true });
  const found = await loadPluginModules(config);
  const logger = createLogger('silent');
  const loaded = registerPlugins(found, { root: rootContainer.createChildContainer(), config, logger, coreVersion: CORE_VERSION });
  const list = pluginList(loaded).map((p) => ({ ...p, status: 'ok' }));
  if (values.json) out(JSON.stringify(list, null, 2));
  else for (const p of list) out(`${p.name.padEnd(20)} ${p.version.padEnd(10)} ${p.kind.padEnd(16)} ${p.status}  ${p.origin}`);
  return 0;
}

async function merchantsCommand(config: HubConfig, args: string[]): Promise<number> {
  if (args[0] !== 'create') throw new StartupError(ERR.CONFIG_INVALID, 'usage: payhub merchants create --name NAME [--notify-url URL] [--mode test|live] [--currencies RUB,USD] [--json]');
  const { values } = parseArgs({
    args: args.slice(1),
    options: { name: { type: 'string' }, 'notify-url': { type: 'string' }, mode: { type: 'string' }, currencies: { type: 'string' }, 'direct-card-input': { type: 'boolean' }, json: { type: 'boolean' } },
  });
  if (!values.name) throw new PayhubError('validation_failed', '--name is required', { status: 422 });
  if (values.mode && values.mode !== 'test' && values.mode !== 'live') throw new PayhubError('validation_failed', '--mode must be test or live', { status: 422 });
  return withHub({ ...config, workers: { ...config.workers, enabled: false } }, async (hub) => {
    const m = await createMerchant(hub.db, hub.keyring, new Date().toISOString(), {
      name: values.name!, notifyUrl: values['notify-url'] ?? null, mode: values.mode as 'test' | 'live' | undefined,
      currencies: values.currencies?.split(',').map((c) => c.trim().toUpperCase()), directCardInput: values['direct-card-input'],
    });
    if (values.json) out(JSON.stringify(m));
    else out(`merchant ${m.id} (${m.mode})\ntest secret key: ${m.test_secret_key}\n${m.live_secret_key ? `live secret key: ${m.live_secret_key}\n` : ''}webhook secret: ${m.webhook_secret}`);
    return 0;
  });
}

/**
 * `payhub keys rotate`: after configuring a new master key (keys.masterKey + keys.version, the old key kept under
 * keys.previous), re-wraps the core's secrets, then runs every plugin's own `keys` command (e.g. the card vault).
 */
async function keysCommand(config: HubConfig, args: string[]): Promise<number> {
  if (args[0] !== 'rotate') {
    process.stderr.write('usage: payhub keys rotate [plugin options]\n');
    return 2;
  }
  return withHub({ ...config, workers: { ...config.workers, enabled: false }, log: { ...config.log, level: 'warn' } }, async (hub) => {
    const r = await rewrapCoreSecrets(hub.db, hub.keyring as AesKeyring);
    out(`core: master_key_version=${hub.keyring.version} rewrapped=${r.rewrapped} already_current=${r.current}`);
    let code = 0;
    for (const lp of hub.plugins) {
      const cmd = lp.plugin.commands?.find((c) => c.name === 'keys');
      if (!cmd) continue;
      const rc = await cmd.run(args, lifecycleContext(lp, hub.config, hub.db, 'cli'));
      if (typeof rc === 'number' && rc !== 0) code = rc;
    }
    return code;
  });
}

/** Commands that plugins add. When several plugins define one name, the next argument picks the plugin. */
async function pluginCommand(config: HubConfig, name: string, args: string[]): Promise<number | null> {
  const found = await loadPluginModules(config);
  const candidates = found.filter((f) => f.plugin.commands?.some((c) => c.name === name));
  if (!candidates.length) return null;
  // Several plugins may share a command name (e.g. `payhub emulate webmoney|yoomoney|qiwi`): the first argument
  // names the plugin, and the command receives the arguments as typed (its own name first).
  let chosen = candidates[0]!;
  const rest = args;
  if (candidates.length > 1) {
    const pick = candidates.find((c) => c.plugin.name === args[0]);
    if (!pick) throw new StartupError(ERR.CONFIG_INVALID, `usage: payhub ${name} <${candidates.map((c) => c.plugin.name).join('|')}> ...`);
    chosen = pick;
  }
  const cmd = chosen.plugin.commands!.find((c) => c.name === name)!;
  if (cmd.needsDb === false) {
    const logger = createLogger(config.log.level);
    const loaded = registerPlugins([chosen], { root: rootContainer.createChildContainer(), config, logger, coreVersion: CORE_VERSION });
    const r = await cmd.run(rest, lifecycleContext(loaded[0]!, config, null as never, 'cli'));
    return typeof r === 'number' ? r : 0;
  }
  return withHub({ ...config, workers: { ...config.workers, enabled: false }, log: { ...config.log, level: 'warn' } }, async (hub) => {
    const lp = hub.plugins.find((p) => p.plugin.name === chosen.plugin.name)!;
    const r = await cmd.run(rest, lifecycleContext(lp, hub.config, hub.db, 'cli'));
    return typeof r === 'number' ? r : 0;
  });
}

export async function main(argv: string[]): Promise<number> {
  const [cmd = 'help', ...args] = argv;
  try {
    if (cmd === 'help' || cmd === '--help' || cmd === '-h') {
      out(HELP);
      return 0;
    }
    if (cmd === '--version' || cmd === 'version') {
      out(CORE_VERSION);
      return 0;
    }
    const config = loadConfig();
    switch (cmd) {
      case 'start': return await start(config);
      case 'worker': return await start(config, true);
      case 'migrate':
        return await withHub({ ...config, workers: { ...config.workers, enabled: false } }, async (hub) => {
          out(`migrations applied (core and ${hub.plugins.length} plugins)`);
          return 0;
        });
      case 'plugins': return await pluginsCommand(config, args);
      case 'merchants': return await merchantsCommand(config, args);
      case 'keys': return await keysCommand(config, args);
      default: {
        const r = await pluginCommand(config, cmd, args);
        if (r === null) {
          process.stderr.write(`unknown command "${cmd}"\n\n${HELP}\n`);
          return 2;
        }
        return r;
      }
    }
  } catch (e) {
    return fail(e);
  }
}
