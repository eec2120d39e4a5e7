import type { Knex } from 'knex';
import type { PluginMigration } from '../host/contract';

/** Table that keeps one owner's migration history: core uses `knex_migrations__core`, plugin X `knex_migrations__X`. */
export function migrationTable(owner: string): string {
  return `knex_migrations__${owner.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

/** Applies the pending migrations of one owner, each in its own transaction. Returns the names applied. */
export async function migrate(db: Knex, owner: string, migrations: readonly PluginMigration[]): Promise<string[]> {
  if (migrations.length === 0) return [];
  const source: Knex.MigrationSource<PluginMigration> = {
    getMigrations: async () => [...migrations],
    getMigrationName: (m) => m.name,
    getMigration: async (m) => ({ up: m.up, down: m.down ?? (async () => undefined) }),
  };
  const [, applied] = (await db.migrate.latest({ tableName: migrationTable(owner), migrationSource: source })) as [number, string[]];
  return applied;
}

/** Names of the migrations applied for an owner, in order. */
export async function appliedMigrations(db: Knex, owner: string): Promise<string[]> {
  const table = migrationTable(owner);
  if (!(await db.schema.hasTable(table))) return [];
  const rows = await db(table).select('name').orderBy('id');
  return rows.map((r: { name: string }) => r.name);
}
