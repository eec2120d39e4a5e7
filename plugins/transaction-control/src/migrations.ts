import type { PluginMigration } from '@payhub/core';

export const migrations: PluginMigration[] = [
  {
    name: '20261201000000_transaction_control',
    async up(knex) {
      await knex.schema.createTable('transaction_control_rules', (t) => {
        t.string('merchant_id', 40).primary();
        t.text('rules').notNullable();
        t.string('updated_at', 30).notNullable();
      });
      // One row per risk check: the counters (velocity, declines, daily totals) are counted over these rows, and
      // the decision with the rules that fired is kept with them.
      await knex.schema.createTable('transaction_control_checks', (t) => {
        t.bigIncrements('id');
        t.string('attempt_id', 40).notNullable().unique();
        t.string('order_id', 40).notNullable();
        t.string('merchant_id', 40).notNullable();
        t.string('method', 40).notNullable();
        t.bigInteger('amount').notNullable();
        t.string('currency', 3).notNullable();
        t.string('day', 10).notNullable();
        t.string('fingerprint', 64).nullable();
        t.string('email_fp', 64).nullable();
        t.string('ip', 45).nullable();
        t.string('decision', 8).notNullable();
        t.text('rules').notNullable();
        t.string('created_at', 30).notNullable();
        t.index(['merchant_id', 'fingerprint', 'created_at']);
        t.index(['merchant_id', 'email_fp', 'created_at']);
        t.index(['merchant_id', 'ip', 'created_at']);
        t.index(['merchant_id', 'currency', 'day']);
        t.index(['merchant_id', 'id']);
        t.index(['order_id']);
      });
      await knex.schema.createTable('transaction_control_ip_countries', (t) => {
        t.bigIncrements('id');
        t.string('merchant_id', 40).notNullable();
        t.string('start_hex', 32).notNullable();
        t.string('end_hex', 32).notNullable();
        t.string('country', 2).notNullable();
        t.index(['merchant_id', 'start_hex']);
      });
    },
    async down(knex) {
      await knex.schema.dropTableIfExists('transaction_control_ip_countries');
      await knex.schema.dropTableIfExists('transaction_control_checks');
      await knex.schema.dropTableIfExists('transaction_control_rules');
    },
  },
];
