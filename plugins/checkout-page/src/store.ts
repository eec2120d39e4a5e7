import type { Clock, Db, PluginMigration } from '@payhub/core';
import { parseTheme, type Theme } from './theme';

export const migrations: readonly PluginMigration[] = [
  {
    name: '20261201000000_checkout_themes',
    async up(knex) {
      await knex.schema.createTable('checkout_themes', (t) => {
        t.string('merchant_id', 40).primary();
        t.text('theme').notNullable();
        t.string('updated_at', 40).notNullable();
      });
      await knex.schema.createTable('checkout_rate_hits', (t) => {
        t.increments('id');
        t.string('order_id', 40).notNullable();
        t.string('at', 40).notNullable();
        t.index(['order_id', 'at']);
      });
    },
    async down(knex) {
      await knex.schema.dropTableIfExists('checkout_rate_hits');
      await knex.schema.dropTableIfExists('checkout_themes');
    },
  },
];

export async function loadTheme(db: Db, merchantId: string): Promise<Theme | null> {
  const row = await db('checkout_themes').where({ merchant_id: merchantId }).first();
  if (!row) return null;
  try {
    return parseTheme(JSON.parse(row.theme));
  } catch {
    return null;
  }
}

export async function saveTheme(db: Db, clock: Clock, merchantId: string, theme: Theme): Promise<void> {
  await db('checkout_themes')
    .insert({ merchant_id: merchantId, theme: JSON.stringify(theme), updated_at: clock.now().toISOString() })
    .onConflict('merchant_id').merge();
}

export interface RateLimit {
  readonly max: number;
  readonly windowMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { max: 10, windowMs: 10 * 60_000 };

/**
 * Counts a payment attempt on an order in the shared table and says whether it is within the limit. Insert first,
 * count after: two hub instances racing both see each other's row, so the limit holds across instances.
 */
export async function hitRateLimit(db: Db, clock: Clock, orderId: string, limit: RateLimit = DEFAULT_RATE_LIMIT): Promise<{ allowed: boolean; retryAfter: number }> {
  const now = clock.now();
  const since = new Date(now.getTime() - limit.windowMs).toISOString();
  await db('checkout_rate_hits').insert({ order_id: orderId, at: now.toISOString() });
  const rows = await db('checkout_rate_hits').where({ order_id: orderId }).andWhere('at', '>', since).orderBy('at', 'asc').select('at');
  if (rows.length <= limit.max) return { allowed: true, retryAfter: 0 };
  const oldest = Date.parse(String(rows[0]!.at));
  return { allowed: false, retryAfter: Math.max(1, Math.ceil((oldest + limit.windowMs - now.getTime()) / 1000)) };
}

/** Drops hits older than the window (called now and then). */
export async function pruneRateHits(db: Db, clock: Clock, limit: RateLimit = DEFAULT_RATE_LIMIT): Promise<void> {
  await db('checkout_rate_hits').where('at', '<=', new Date(clock.now().getTime() - limit.windowMs).toISOString()).delete();
}
