import type { PluginMigration } from '@payhub/core';

export const migrations: PluginMigration[] = [
  {
    name: '20261201000000_loyalty',
    async up(knex) {
      await knex.schema.createTable('loyalty_rules', (t) => {
        t.string('merchant_id', 40).primary();
        t.text('rules').notNullable();
        t.string('updated_at', 30).notNullable();
      });
      await knex.schema.createTable('loyalty_cards', (t) => {
        t.string('number', 19).primary();
        t.string('merchant_id', 40).notNullable().index();
        t.string('kind', 10).notNullable();
        t.string('status', 10).notNullable();
        t.string('holder_name', 200).nullable();
        t.string('holder_email', 254).nullable();
        /** Keyed HMAC of the holder's secret code; the code itself is never stored. */
        t.string('code_hash', 64).notNullable();
        t.integer('failed_codes').notNullable().defaultTo(0);
        t.string('locked_until', 30).nullable();
        t.string('created_at', 30).notNullable();
      });
      // Orders created through POST /v1/loyalty/orders, watched until their points are settled.
      await knex.schema.createTable('loyalty_orders', (t) => {
        t.string('order_id', 40).primary();
        t.string('merchant_id', 40).notNullable();
        t.string('card_number', 19).notNullable().index();
        t.string('currency', 3).notNullable();
        t.bigInteger('base_amount').notNullable();
        t.bigInteger('discount').notNullable();
        t.bigInteger('points_spent').notNullable();
        t.integer('point_value').notNullable();
        t.integer('earn_bps').notNullable();
        t.bigInteger('earned_points').notNullable().defaultTo(0);
        t.bigInteger('earn_reversed').notNullable().defaultTo(0);
        t.bigInteger('spent_returned').notNullable().defaultTo(0);
        t.string('state', 10).notNullable();
        t.string('created_at', 30).notNullable();
        t.string('updated_at', 30).notNullable();
        t.index(['state', 'updated_at']);
      });
    },
    async down(knex) {
      await knex.schema.dropTableIfExists('loyalty_orders');
      await knex.schema.dropTableIfExists('loyalty_cards');
      await knex.schema.dropTableIfExists('loyalty_rules');
    },
  },
];
