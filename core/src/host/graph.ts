import semver from 'semver';
import { ERR, StartupError } from '../errors';
import type { PayhubPlugin } from './contract';

const NAME_RE = /^[a-z][a-z0-9-]{0,62}$/;

/** Checks a plugin module's shape; names the field at fault. */
export function assertPluginShape(p: unknown, origin: string): asserts p is PayhubPlugin<unknown> {
  const o = p as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') {
    throw new StartupError(ERR.PLUGIN_INVALID, `module "${origin}" does not export a plugin (default export or "plugin")`);
  }
  const name = typeof o.name === 'string' ? o.name : undefined;
  const who = name ? `plugin "${name}"` : `module "${origin}"`;
  if (!name || !NAME_RE.test(name)) throw new StartupError(ERR.PLUGIN_INVALID, `${who}: field "name" must match ${NAME_RE}`);
  if (typeof o.version !== 'string' || !semver.valid(o.version)) {
    throw new StartupError(ERR.PLUGIN_INVALID, `${who}: field "version" must be a semver version`);
  }
  if (typeof o.core !== 'string' || !semver.validRange(o.core)) {
    throw new StartupError(ERR.PLUGIN_INVALID, `${who}: field "core" must be a semver range`);
  }
  if (o.dependencies !== undefined && (!Array.isArray(o.dependencies) || o.dependencies.some((d) => typeof d !== 'string'))) {
    throw new StartupError(ERR.PLUGIN_INVALID, `${who}: field "dependencies" must be a list of plugin names`);
  }
  for (const hook of ['register', 'routes', 'onReady', 'onClose'] as const) {
    if (o[hook] !== undefined && typeof o[hook] !== 'function') {
      throw new StartupError(ERR.PLUGIN_INVALID, `${who}: field "${hook}" must be a function`);
    }
  }
}

/**
 * Validates names, core range and dependencies, and returns the plugins in load order (dependencies first;
 * ties keep config order). Refuses duplicates, version mismatches, missing and cyclic dependencies.
 */
export function orderPlugins<P extends PayhubPlugin<unknown>>(plugins: readonly P[], coreVersion: string): P[] {
  const byName = new Map<string, P>();
  for (const p of plugins) {
    if (byName.has(p.name)) throw new StartupError(ERR.PLUGIN_DUPLICATE, `plugin "${p.name}" is listed twice`);
    byName.set(p.name, p);
  }
  for (const p of plugins) {
    if (!semver.satisfies(coreVersion, p.core, { includePrerelease: true })) {
      throw new StartupError(ERR.PLUGIN_VERSION_MISMATCH, `plugin "${p.name}" needs core ${p.core}, this is ${coreVersion}`);
    }
    for (const d of p.dependencies ?? []) {
      if (!byName.has(d)) {
        throw new StartupError(ERR.PLUGIN_DEPENDENCY_MISSING, `plugin "${p.name}" depends on "${d}", which is not loaded`);
      }
    }
  }
  const order: P[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (p: P, path: string[]) => {
    const s = state.get(p.name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(p.name)), p.name];
      throw new StartupError(ERR.PLUGIN_DEPENDENCY_CYCLE, `plugin "${p.name}" is in a dependency cycle: ${cycle.join(' -> ')}`);
    }
    state.set(p.name, 'visiting');
    for (const d of p.dependencies ?? []) visit(byName.get(d)!, [...path, p.name]);
    state.set(p.name, 'done');
    order.push(p);
  };
  for (const p of plugins) visit(p, []);
  return order;
}
