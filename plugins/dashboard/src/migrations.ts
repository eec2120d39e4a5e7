import type { Knex } from 'knex';
import type { PluginMigration } from '@payhub/core';

/* Times are ISO-8601 UTC strings, as in the core. Secrets are stored only encrypted (Keyring) or hashed. */
const ts = (t: Knex.CreateTableBuilder, name: string) => t.string(name, 32);

export const migrations: PluginMigration[] = [
  {
    name: '20261128000000_dashboard',
    async up(knex) {
      await knex.schema.createTable('dashboard_users', (t) => {
        t.string('id', 40).primary();
        t.string('email', 254).notNullable().unique().comment('lower-case');
        t.string('name', 200).notNullable().defaultTo('');
        t.string('role', 16).notNullable().comment('operator | owner | staff | readonly');
        t.string('merchant_id', 40).comment('null for the operator');
        t.text('password_hash').comment('scrypt$N$r$p$salt$hash; null until set');
        t.boolean('must_change_password').notNullable().defaultTo(false);
        t.string('lang', 2).notNullable().defaultTo('en');
        ts(t, 'created_at').notNullable();
        ts(t, 'updated_at').notNullable();
        t.index(['merchant_id']);
      });
      await knex.schema.createTable('dashboard_sessions', (t) => {
        t.string('id_hash', 64).primary().comment('SHA-256 of the cookie value; the value is never stored');
        t.string('user_id', 40).comment('null: an anonymous session that only carries a CSRF token');
        t.string('csrf_token', 64).notNullable();
        ts(t, 'created_at').notNullable();
        ts(t, 'expires_at').notNullable();
        ts(t, 'revoked_at');
        t.index(['user_id']);
      });
      await knex.schema.createTable('dashboard_throttle', (t) => {
        t.increments('id');
        t.string('bucket', 24).notNullable().comment('login_email | login_ip | application_ip');
        t.string('subject', 64).notNullable().comment('keyed fingerprint of the e-mail or IP');
        ts(t, 'at').notNullable();
        t.index(['bucket', 'subject', 'at']);
      });
      await knex.schema.createTable('dashboard_tokens', (t) => {
        t.string('token_hash', 64).primary();
        t.string('user_id', 40).notNullable();
        t.string('purpose', 16).notNullable().comment('set_password');
        ts(t, 'expires_at').notNullable();
        ts(t, 'used_at');
      });
      await knex.schema.createTable('dashboard_applications', (t) => {
        t.string('id', 40).primary();
        t.string('merchant_id', 40).notNullable().unique();
        t.string('shop_name', 200).notNullable();
        t.text('site_url').notNullable();
        t.string('contact_email', 254).notNullable();
        t.text('legal').notNullable().comment('JSON {name, tax_id, address}');
        t.string('status', 24).notNullable().comment('test | registered | bank_chosen | production_requested | live');
        t.string('lang', 2).notNullable().defaultTo('en');
        t.string('bank_id', 80);
        t.text('bank_details').comment('JSON of the non-secret fields the merchant submitted');
        ts(t, 'registered_at');
        ts(t, 'production_requested_at');
        ts(t, 'created_at').notNullable();
        ts(t, 'updated_at').notNullable();
      });
      await knex.schema.createTable('dashboard_contracts', (t) => {
        t.string('id', 40).primary();
        t.string('merchant_id', 40).notNullable().index();
        t.string('bank_id', 80).notNullable();
        t.string('bank_merchant_id', 120).notNullable();
        t.string('terminal_id', 120).notNullable();
        t.text('credentials_enc').notNullable().comment('JSON of the bank credentials, encrypted with the keyring');
        t.string('check_status', 16).notNullable().defaultTo('unchecked').comment('unchecked | ok | failed');
        t.string('check_message', 500);
        ts(t, 'checked_at');
        t.string('recorded_by', 120).notNullable();
        ts(t, 'created_at').notNullable();
        ts(t, 'superseded_at');
      });
      await knex.schema.createTable('dashboard_onboarding_events', (t) => {
        t.increments('id');
        t.string('merchant_id', 40).notNullable();
        t.string('action', 60).notNullable();
        t.string('actor', 120).notNullable().comment('applicant | merchant:<user> | operator:<user> | operator');
        t.text('data').notNullable().defaultTo('{}');
        ts(t, 'at').notNullable();
        t.index(['merchant_id', 'at']);
      });
    },
    async down(knex) {
      for (const n of ['dashboard_onboarding_events', 'dashboard_contracts', 'dashboard_applications', 'dashboard_tokens',
        'dashboard_throttle', 'dashboard_sessions', 'dashboard_users']) await knex.schema.dropTableIfExists(n);
    },
  },
];
