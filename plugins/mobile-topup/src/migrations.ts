import type { PluginMigration } from '@payhub/core';

export const migrations: PluginMigration[] = [
  {
    name: '20261201000000_mobile_topup',
    async up(knex) {
      await knex.schema.createTable('mobile_topup_terminals', (t) => {
        t.string('id', 40).primary();
        t.string('merchant_id', 40).notNullable().index();
        t.string('name', 200).notNullable();
        /** The HMAC secret, encrypted with the hub's keyring (AAD: the terminal id). */
        t.text('secret_enc').notNullable();
        t.string('status', 10).notNullable();
        t.string('created_at', 30).notNullable();
      });
      await knex.schema.createTable('mobile_topup_topups', (t) => {
        t.string('id', 40).primary();
        t.string('merchant_id', 40).notNullable().index();
        t.string('msisdn', 16).notNullable();
        t.string('operator_id', 60).notNullable();
        t.bigInteger('amount').notNullable();
        t.string('currency', 3).notNullable();
        t.string('source', 8).notNullable();
        t.string('order_id', 40).nullable().unique();
        t.string('terminal_id', 40).nullable();
        t.string('receipt', 64).nullable();
        t.string('status', 20).notNullable();
        t.integer('credit_attempts').notNullable().defaultTo(0);
        t.integer('status_checks').notNullable().defaultTo(0);
        t.string('operator_ref', 100).nullable();
        t.string('decline_reason', 100).nullable();
        t.string('refund_status', 20).nullable();
        t.string('next_check_at', 30).nullable();
        t.string('created_at', 30).notNullable();
        t.string('updated_at', 30).notNullable();
        // A terminal's receipt is credited once.
        t.unique(['terminal_id', 'receipt']);
        t.index(['status', 'next_check_at']);
      });
    },
    async down(knex) {
      await knex.schema.dropTableIfExists('mobile_topup_topups');
      await knex.schema.dropTableIfExists('mobile_topup_terminals');
    },
  },
];
