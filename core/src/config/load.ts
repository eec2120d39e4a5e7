import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { configSchema, type HubConfig } from './schema';
import { ERR, StartupError } from '../errors';

/** The project root: the folder holding config/ and plugins/. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: objects merge, arrays and scalars replace. */
export function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Obj, v) : v;
  }
  return out;
}

function readFileConfig(file: string): Obj {
  const text = fs.readFileSync(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new StartupError(ERR.CONFIG_INVALID, `config file ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message}`);
  }
  if (parsed == null) return {};
  if (!isObj(parsed)) throw new StartupError(ERR.CONFIG_INVALID, `config file ${file} must hold a mapping`);
  return parsed;
}

function findConfigFile(dir: string, base: string): string | null {
  for (const ext of ['.yaml', '.yml', '.json']) {
    const f = path.join(dir, base + ext);
    if (fs.existsSync(f)) return f;
  }
  return null;
}

function envBool(v: string, where: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  throw new StartupError(ERR.CONFIG_INVALID, `invalid config:\n  - ${where}: expected a boolean (1/0, true/false), got ${JSON.stringify(v)}`);
}

function envNumber(v: string, where: string): number {
  if (!/^\d+$/.test(v)) throw new StartupError(ERR.CONFIG_INVALID, `invalid config:\n  - ${where}: expected a whole number, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** Environment variables that override config keys. */
export const ENV_KEYS: ReadonlyArray<{ env: string; key: string; parse: (v: string, k: string) => unknown }> = [
  { env: 'PORT', key: 'port', parse: envNumber },
  { env: 'HOST', key: 'host', parse: (v) => v },
  { env: 'DATABASE_URL', key: 'database.url', parse: (v) => v },
  { env: 'PAYHUB_SQLITE_DRIVER', key: 'database.sqliteDriver', parse: (v) => v },
  { env: 'PAYHUB_SQLITE_GROUP_COMMIT', key: 'database.groupCommit', parse: envBool },
  { env: 'PAYHUB_PUBLIC_URL', key: 'publicUrl', parse: (v) => v },
  { env: 'LOG_LEVEL', key: 'log.level', parse: (v) => v },
  { env: 'PAYHUB_ADMIN_TOKEN', key: 'adminToken', parse: (v) => v },
  { env: 'PAYHUB_MASTER_KEY', key: 'keys.masterKey', parse: (v) => v },
  { env: 'PAYHUB_FINGERPRINT_KEY', key: 'keys.fingerprintKey', parse: (v) => v },
  { env: 'PAYHUB_WEBHOOKS_ALLOW_PRIVATE', key: 'webhooks.allowPrivate', parse: envBool },
  { env: 'PAYHUB_WORKERS', key: 'workers.enabled', parse: envBool },
  { env: 'PAYHUB_TRUST_PROXY', key: 'http.trustProxy', parse: envBool },
  { env: 'PAYHUB_DEMO', key: 'demo.enabled', parse: envBool },
];

function setPath(obj: Obj, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (!isObj(cur[p])) cur[p] = {};
    cur = cur[p] as Obj;
  }
  cur[parts[parts.length - 1]!] = value;
}

export interface LoadOptions {
  /** Folder holding default.* and local.* (default: <root>/config). */
  configDir?: string;
  /** Extra config file (PAYHUB_CONFIG). */
  file?: string;
  /** Environment to read overrides from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Final overrides (tests). */
  overrides?: Obj;
  rootDir?: string;
}

/**
 * Loads config: config/default.* → config/local.* → PAYHUB_CONFIG file → environment → overrides,
 * then validates it. Every bad key is listed in one StartupError.
 */
export function loadConfig(opts: LoadOptions = {}): HubConfig {
  const env = opts.env ?? process.env;
  const rootDir = opts.rootDir ?? PROJECT_ROOT;
  const configDir = opts.configDir ?? path.join(rootDir, 'config');
  const sources: string[] = [];
  let merged: Obj = {};
  for (const base of ['default', 'local']) {
    const f = findConfigFile(configDir, base);
    if (f) {
      merged = deepMerge(merged, readFileConfig(f));
      sources.push(f);
    }
  }
  const extra = opts.file ?? env.PAYHUB_CONFIG;
  if (extra) {
    const f = path.resolve(rootDir, extra);
    if (!fs.existsSync(f)) throw new StartupError(ERR.CONFIG_INVALID, `PAYHUB_CONFIG: file ${f} does not exist`);
    merged = deepMerge(merged, readFileConfig(f));
    sources.push(f);
  }
  for (const { env: name, key, parse } of ENV_KEYS) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(merged, key, parse(v, `${key} (${name})`));
  }
  if (opts.overrides) merged = deepMerge(merged, opts.overrides);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap((i) => {
      const keys = i.code === 'unrecognized_keys'
        ? i.keys.map((k) => [...i.path, k].join('.'))
        : [i.path.join('.') || '(root)'];
      return keys.map((key) => {
        const envName = ENV_KEYS.find((e) => e.key === key)?.env;
        const msg = i.code === 'unrecognized_keys' ? 'unknown key' : i.message;
        return `  - ${key}${envName ? ` (${envName})` : ''}: ${msg}`;
      });
    });
    throw new StartupError(ERR.CONFIG_INVALID, `invalid config:\n${lines.join('\n')}`);
  }
  const db = parsed.data.database.url;
  if (!/^(sqlite:|postgres:\/\/|postgresql:\/\/)/.test(db)) {
    throw new StartupError(ERR.CONFIG_INVALID, 'invalid config:\n  - database.url (DATABASE_URL): must start with sqlite: or postgres://');
  }
  return Object.freeze({ ...parsed.data, rootDir, sources });
}

/** The public base URL of the hub. */
export function publicUrl(config: HubConfig, listeningPort?: number): string {
  if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '');
  return `http://localhost:${listeningPort ?? config.port}`;
}
