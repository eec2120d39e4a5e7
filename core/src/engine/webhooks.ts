import dns from 'node:dns/promises';
import net from 'node:net';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import type { Clock, Keyring } from '../sdk/services';
import type { HubConfig } from '../config/schema';
import { kindOf } from '../db/knex';
import { webhookSecretOf } from './merchants';
import type { MerchantRow } from './rows';

const blocked = new net.BlockList();
for (const [addr, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(addr, prefix, 'ipv4');
for (const [addr, prefix] of [['::1', 128], ['::', 128], ['fc00::', 7], ['fe80::', 10], ['::ffff:0:0', 96]] as const) {
  blocked.addSubnet(addr, prefix, 'ipv6');
}

/** True when a host name resolves (or is) a loopback, private, link-local or otherwise internal address. */
export async function isPrivateTarget(url: string): Promise<boolean> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const addrs = net.isIP(host) ? [{ address: host, family: net.isIP(host) }] : await dns.lookup(host, { all: true });
  return addrs.some((a) => blocked.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4'));
}

export interface DeliveryResult { ok: boolean; status?: number; error?: string }

/** Sends one delivery: Standard Webhooks headers, HMAC-SHA256 over "id.timestamp.body". */
export async function sendSigned(url: string, secret: string, eventId: string, body: string, at: Date, timeoutMs: number): Promise<DeliveryResult> {
  const signature = new Webhook(secret).sign(eventId, at, body);
  try {
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      headers: {
        'content-type': 'application/json', 'user-agent': 'Payhub-Webhooks/1',
        'webhook-id': eventId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature,
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    return { ok: res.status >= 200 && res.status < 300, status: res.status };
  } catch (e) {
    return { ok: false, error: (e as Error).name === 'TimeoutError' ? 'timeout' : (e as Error).message.slice(0, 200) };
  }
}

/** Delivers due webhooks: at least once, retried on the Standard Webhooks schedule, then dead-lettered. */
export class WebhookSender {
  constructor(private readonly d: { db: Knex; keyring: Keyring; clock: Clock; config: HubConfig; logger: Logger }) {}

  private delayMs(attempts: number): number | null {
    const s = this.d.config.webhooks.schedule;
    if (attempts > s.length) return null;
    return Math.round(s[attempts - 1]! * 1000 * this.d.config.webhooks.scheduleScale);
  }

  async pass(limit = this.d.config.workers.batch): Promise<number> {
    const { db, clock } = this.d;
    const now = clock.now();
    const lease = new Date(now.getTime() + this.d.config.webhooks.timeoutMs + 5000).toISOString();
    const claimed = await db.transaction(async (trx) => {
      let q = trx('webhook_deliveries').select('id').where({ status: 'pending' }).where('next_attempt_at', '<=', now.toISOString())
        .where((w) => w.whereNull('locked_until').orWhere('locked_until', '<=', now.toISOString())).orderBy('next_attempt_at').limit(limit);
      if (kindOf(db) === 'postgres') q = q.forUpdate().skipLocked();
      const ids = (await q).map((r: { id: string }) => r.id);
      if (ids.length) await trx('webhook_deliveries').whereIn('id', ids).update({ locked_until: lease });
      return ids;
    });
    await Promise.all(claimed.map((id) => this.deliver(id)));
    return claimed.length;
  }

  /** Attempts one delivery now (also used by POST /v1/webhook-deliveries/:id/retry). */
  async deliver(id: string): Promise<void> {
    const { db, clock } = this.d;
    const d = await db('webhook_deliveries').where({ id }).first();
    if (!d) return;
    const ev = await db('events').where({ id: d.event_id }).first();
    const m = await db<MerchantRow>('merchants').where({ id: d.merchant_id }).first();
    const at = clock.now();
    let result: DeliveryResult;
    let dead = false;
    if (!this.d.config.webhooks.allowPrivate && (await isPrivateTarget(d.url).catch(() => true))) {
      result = { ok: false, error: 'target is a private or loopback address (set PAYHUB_WEBHOOKS_ALLOW_PRIVATE=1 to allow)' };
      dead = true;
    } else {
      result = await sendSigned(d.url, webhookSecretOf(this.d.keyring, m!), ev.id, ev.data, at, this.d.config.webhooks.timeoutMs);
    }
    const attempts = d.attempts + 1;
    const delay = this.delayMs(attempts);
    const status = result.ok ? 'succeeded' : dead || delay === null || result.status === 410 ? 'dead' : 'pending';
    await db('webhook_deliveries').where({ id }).update({
      status, attempts, last_status_code: result.status ?? null, last_error: result.error ?? null, locked_until: null,
      next_attempt_at: status === 'pending' ? new Date(at.getTime() + delay!).toISOString() : null,
      updated_at: at.toISOString(),
    });
    if (!result.ok) this.d.logger.warn({ delivery: id, status: result.status, error: result.error, next: status }, 'webhook delivery failed');
  }
}
