import test from 'ava';
import { createTestHub, StartupError } from '@payhub/core';
import { fixturePlugin } from '../helpers/paths';

const events = (): string[] => ((global as Record<string, unknown>).__payhubFixtureEvents ??= []) as string[];

test.serial('plugins load in dependency order, get validated options and mount routes; close runs in reverse', async (t) => {
  events().length = 0;
  const hub = await createTestHub({ plugins: [{ resolve: fixturePlugin('good-a'), options: { greeting: 'privet' } }, { resolve: fixturePlugin('good-b') }] });
  t.deepEqual(events(), ['register:good-b', 'register:good-a', 'ready:good-b', 'ready:good-a']);
  t.deepEqual(hub.hub.plugins.map((p) => p.plugin.name), ['good-b', 'good-a']);
  const r = await hub.api('GET', '/fixture/a');
  t.deepEqual(r.body, { greeting: 'privet' });
  events().length = 0;
  await hub.close();
  t.deepEqual(events(), ['close:good-a', 'close:good-b']);
});

async function startupError(t: import('ava').ExecutionContext, plugins: Array<{ resolve: string; options?: Record<string, unknown> }>): Promise<StartupError> {
  const err = await t.throwsAsync(createTestHub({ plugins }));
  t.true(err instanceof StartupError, String(err));
  return err as StartupError;
}

test('a missing dependency is refused with a coded error naming both plugins', async (t) => {
  const e = await startupError(t, [{ resolve: fixturePlugin('needs-missing') }]);
  t.is(e.code, 'PAYHUB_ERR_PLUGIN_DEPENDENCY_MISSING');
  t.is(e.message, 'plugin "needs-missing" depends on "not-installed", which is not loaded');
});

test('a dependency cycle is refused and named', async (t) => {
  const e = await startupError(t, [{ resolve: fixturePlugin('cycle-x') }, { resolve: fixturePlugin('cycle-y') }]);
  t.is(e.code, 'PAYHUB_ERR_PLUGIN_DEPENDENCY_CYCLE');
  t.regex(e.message, /cycle-x -> cycle-y -> cycle-x/);
});

test('a core-version mismatch is refused', async (t) => {
  const e = await startupError(t, [{ resolve: fixturePlugin('future-core') }]);
  t.is(e.code, 'PAYHUB_ERR_PLUGIN_VERSION_MISMATCH');
  t.is(e.message, 'plugin "sandbox-bank-next" needs core ^2, this is 1.0.0');
  t.is(String(e), 'PAYHUB_ERR_PLUGIN_VERSION_MISMATCH: plugin "sandbox-bank-next" needs core ^2, this is 1.0.0');
});

test('invalid plugin options list every bad key, never the value', async (t) => {
  const e = await startupError(t, [{ resolve: fixturePlugin('good-b') }, { resolve: fixturePlugin('good-a'), options: { port: 'secret-value-123', extra: true } }]);
  t.is(e.code, 'PAYHUB_ERR_PLUGIN_OPTIONS_INVALID');
  t.regex(e.message, /plugin "good-a" has invalid options/);
  t.regex(e.message, /options\.port/);
  t.regex(e.message, /extra/);
  t.notRegex(e.message, /secret-value-123/);
});

test('a duplicate plugin is refused', async (t) => {
  const e = await startupError(t, [{ resolve: fixturePlugin('good-b') }, { resolve: fixturePlugin('good-b') }]);
  t.is(e.code, 'PAYHUB_ERR_PLUGIN_DUPLICATE');
});

test('an unknown plugin path or package is refused with its name', async (t) => {
  const e1 = await startupError(t, [{ resolve: './plugins/does-not-exist' }]);
  t.is(e1.code, 'PAYHUB_ERR_PLUGIN_NOT_FOUND');
  t.regex(e1.message, /plugins\/does-not-exist/);
  const e2 = await startupError(t, [{ resolve: '@payhub/plugin-nonexistent' }]);
  t.is(e2.code, 'PAYHUB_ERR_PLUGIN_NOT_FOUND');
  t.regex(e2.message, /npm package/);
});

test.serial('a plugin whose onReady throws fails the start cleanly: earlier plugins are closed, nothing listens', async (t) => {
  events().length = 0;
  const e = await startupError(t, [{ resolve: fixturePlugin('good-b') }, { resolve: fixturePlugin('ready-throws') }]);
  t.is(e.code, 'PAYHUB_ERR_PLUGIN_READY_FAILED');
  t.is(e.message, 'plugin "ready-throws" failed in onReady: cannot reach the bank');
  t.true(events().includes('close:good-b'));
});

test('a plugin can be resolved by npm package name', async (t) => {
  const hub = await createTestHub({ plugins: [{ resolve: '@payhub/plugin-sandbox-bank' }] });
  t.teardown(() => hub.close());
  t.true(hub.hub.plugins.some((p) => p.plugin.name === 'sandbox-bank'));
});

test('two plugins keep separate migration histories, and a plugin added later migrates alone', async (t) => {
  const first = await createTestHub({ plugins: [{ resolve: fixturePlugin('good-b') }] });
  const url = first.databaseUrl;
  t.deepEqual((await first.db('knex_migrations__good_b').orderBy('id')).map((r: { name: string }) => r.name), ['001_b', '002_b']);
  t.false(await first.db.schema.hasTable('good_a_items'));
  await first.close({ keepDatabase: true });
  const second = await createTestHub({ databaseUrl: url, plugins: [{ resolve: fixturePlugin('good-b') }, { resolve: fixturePlugin('good-a') }] });
  t.teardown(() => second.close());
  t.deepEqual((await second.db('knex_migrations__good_a')).map((r: { name: string }) => r.name), ['001_a']);
  t.deepEqual((await second.db('knex_migrations__good_b')).map((r: { name: string }) => r.name), ['001_b', '002_b']);
  t.true(await second.db.schema.hasTable('good_a_items'));
  t.true(await second.db.schema.hasColumn('good_b_items', 'label'));
  t.true((await second.db('knex_migrations__core')).length >= 1);
});
