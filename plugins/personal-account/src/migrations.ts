import type { PluginMigration } from '@payhub/core';

/** Tables of the plugin (prefix pa_). Timestamps are ISO-8601 UTC strings, as in the core. */
export const migrations: PluginMigration[] = [{
  name: '001_personal_accounts',
  async up(knex) {
    await knex.schema.createTable('pa_ca', (t) => {
      t.string('id', 32).primary();
      t.text('cert_pem').notNullable();
      /** The CA private key (PKCS#8 PEM) encrypted with the hub's Keyring (AES-256-GCM, aad = pa_ca.key_enc). */
      t.text('key_enc').notNullable();
      t.string('fingerprint256', 128).notNullable();
      t.string('created_at', 32).notNullable();
    });
    await knex.schema.createTable('pa_providers', (t) => {
      t.string('id', 40).primary();
      t.string('name', 200).notNullable();
      t.string('bank_adapter', 100).notNullable();
      /** JSON array of ISO 4217 codes. */
      t.text('currencies').notNullable();
      t.string('created_at', 32).notNullable();
    });
    await knex.schema.createTable('pa_accounts', (t) => {
      t.string('id', 40).primary();
      t.string('provider_id', 40).notNullable().references('id').inTable('pa_providers');
      t.string('holder', 200).notNullable();
      /** Account number at the bank, Keyring-encrypted; fingerprint for uniqueness; last 4 for display. */
      t.text('account_number_enc').notNullable();
      t.string('account_number_fp', 64).notNullable();
      t.string('account_last4', 4).notNullable();
      t.string('status', 16).notNullable();
      t.string('created_at', 32).notNullable();
      t.string('updated_at', 32).notNullable();
      t.unique(['provider_id', 'account_number_fp']);
    });
    await knex.schema.createTable('pa_certificates', (t) => {
      /** Lower-case hex, no leading zero bytes. */
      t.string('serial', 64).primary();
      t.string('account_id', 40).notNullable().references('id').inTable('pa_accounts');
      t.string('fingerprint256', 128).notNullable();
      t.text('cert_pem').notNullable();
      t.string('not_before', 32).notNullable();
      t.string('not_after', 32).notNullable();
      t.string('status', 16).notNullable();
      t.string('issued_via', 16).notNullable();
      t.string('revoked_at', 32);
      t.string('revocation_reason', 40);
      t.string('created_at', 32).notNullable();
      t.index(['account_id']);
      t.index(['status']);
    });
    await knex.schema.createTable('pa_nonces', (t) => {
      t.string('serial', 64).notNullable();
      t.string('nonce', 128).notNullable();
      t.string('order_id', 64).notNullable();
      t.string('created_at', 32).notNullable();
      t.primary(['serial', 'nonce']);
      t.index(['created_at']);
    });
  },
  async down(knex) {
    for (const t of ['pa_nonces', 'pa_certificates', 'pa_accounts', 'pa_providers', 'pa_ca']) await knex.schema.dropTableIfExists(t);
  },
}];
