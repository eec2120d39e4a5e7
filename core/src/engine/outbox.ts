import type { Knex } from 'knex';
import { newId } from '../sdk/util';

/**
 * Transactional outbox: the event row (and its delivery rows) are written in the same transaction as the change
 * they describe. (entity_id, type, entity_version) is unique, so one change yields exactly one event.
 */
export async function emit(trx: Knex.Transaction, e: {
  merchantId: string; type: string; entityId: string; entityVersion: number; data: Record<string, unknown>;
  at: string; notifyUrl: string | null;
}): Promise<string> {
  const id = newId('evt');
  const ts = Math.floor(Date.parse(e.at) / 1000);
  const body = { type: e.type, timestamp: ts, data: e.data };
  await trx('events').insert({
    id, merchant_id: e.merchantId, type: e.type, entity_id: e.entityId, entity_version: e.entityVersion,
    data: JSON.stringify(body), created_at: e.at,
  });
  if (e.notifyUrl) {
    await trx('webhook_deliveries').insert({
      id: newId('whd'), event_id: id, merchant_id: e.merchantId, url: e.notifyUrl, status: 'pending', attempts: 0,
      next_attempt_at: e.at, created_at: e.at, updated_at: e.at,
    });
  }
  return id;
}
