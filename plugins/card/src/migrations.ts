import type { PluginMigration } from '@payhub/core';

/*
 * The card plugin's own tables (prefix card_). Times are ISO-8601 UTC strings like the core's.
 * No column ever holds a card number in clear: card_vault.pan_enc is AES-256-GCM ciphertext under a data key,
 * and the data keys are stored only wrapped by the hub's master key (which is never in the database).
 */
export const migrations: PluginMigration[] = [
  {
    name: '20261127000000_card_vault',
    async up(knex) {
      await knex.schema.createTable('card_data_keys', (t) => {
        t.string('id', 40).primary().comment('cdk_…');
        t.integer('master_key_version').notNullable().comment('version of the master key that wraps this data key');
        t.text('wrapped_key').notNullable().comment('Keyring.encrypt(base64 data key), AAD = card_data_keys:<id>');
        t.boolean('active').notNullable().defaultTo(true).comment('new cards are encrypted under the newest active key');
        t.string('created_at', 32).notNullable();
        t.string('rotated_at', 32);
      });
      await knex.schema.createTable('card_vault', (t) => {
        t.string('token', 40).primary().comment('ctok_…');
        t.string('merchant_id', 40).notNullable();
        t.string('fingerprint', 64).notNullable().comment('Keyring.fingerprint(card, PAN): keyed HMAC-SHA256');
        t.text('pan_enc').notNullable().comment('AES-256-GCM under the data key, AAD = token and merchant');
        t.string('dek_id', 40).notNullable().references('card_data_keys.id');
        t.string('brand', 20).notNullable();
        t.string('masked', 24).notNullable().comment('BIN + last 4');
        t.integer('exp_month').notNullable();
        t.integer('exp_year').notNullable();
        t.string('created_at', 32).notNullable();
        t.string('updated_at', 32).notNullable();
        t.index(['merchant_id', 'fingerprint']);
        t.index(['dek_id']);
      });
    },
    async down(knex) {
      await knex.schema.dropTableIfExists('card_vault');
      await knex.schema.dropTableIfExists('card_data_keys');
    },
  },
];
