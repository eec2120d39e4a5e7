import type { Knex } from 'knex';
import { isUniqueViolation, type PluginMigration } from '@payhub/core';

/**
 * WebMoney wants an integer LMI_PAYMENT_NO, and only LMI_PAYMENT_NO is covered by the signature
 * (custom fields are echoed unsigned). So each attempt gets a stable integer from this table.
 */
export const TABLE = 'webmoney_payments';

export const migrations: PluginMigration[] = [
  {
    name: '001_webmoney_payments',
    async up(knex) {
      await knex.schema.createTable(TABLE, (t) => {
        t.increments('payment_no').primary();
        t.string('attempt_id', 40).notNullable().unique();
        t.string('sys_invs_no', 32);
        t.string('sys_trans_no', 32);
        t.string('created_at', 32).notNullable();
      });
    },
    async down(knex) {
      await knex.schema.dropTableIfExists(TABLE);
    },
  },
];

export class PaymentNumbers {
  constructor(private readonly db: Knex) {}

  /** The payment number of an attempt, created on first use (stable across retries). */
  async forAttempt(attemptId: string): Promise<number> {
    const found = await this.db(TABLE).where({ attempt_id: attemptId }).first('payment_no');
    if (found) return Number(found.payment_no);
    try {
      await this.db(TABLE).insert({ attempt_id: attemptId, created_at: new Date().toISOString() });
    } catch (e) {
      if (!isUniqueViolation(e)) throw e;
    }
    const row = await this.db(TABLE).where({ attempt_id: attemptId }).first('payment_no');
    return Number(row.payment_no);
  }

  /** The attempt behind a payment number received from WebMoney, or null. */
  async attemptOf(paymentNo: string): Promise<string | null> {
    if (!/^[1-9][0-9]{0,14}$/.test(paymentNo)) return null;
    const row = await this.db(TABLE).where({ payment_no: Number(paymentNo) }).first('attempt_id');
    return row ? String(row.attempt_id) : null;
  }

  /** Remembers WebMoney's invoice/transfer numbers of the accepted notification. */
  async recordTransfer(paymentNo: string, invsNo: string, transNo: string): Promise<void> {
    await this.db(TABLE).where({ payment_no: Number(paymentNo) }).whereNull('sys_trans_no')
      .update({ sys_invs_no: invsNo.slice(0, 32), sys_trans_no: transNo.slice(0, 32) });
  }
}
