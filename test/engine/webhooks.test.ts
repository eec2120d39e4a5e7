import crypto from 'node:crypto';
import test from 'ava';
import { Webhook } from 'standardwebhooks';
import { engineHubs, newOrder, pay } from '../helpers/engine-kit';
import { startWebhookReceiver } from '../helpers/webhook-receiver';

const kit = engineHubs(test);

test('every order status change and payment.declined/failed is delivered, signed per Standard Webhooks', async (t) => {
  const rx = await startWebhookReceiver();
  t.teardown(() => rx.close());
  const h = await kit.hub();
  const m = await h.createMerchant({ notifyUrl: rx.url });
  t.regex(m.webhookSecret, /^whsec_[A-Za-z0-9+/=]{32,}$/);
  const o = await newOrder(h, m.key, { capture: 'manual' });
  await pay(h, m.key, o.id, [{ kind: 'declined', reason: 'do_not_honor' }]);
  await pay(h, m.key, o.id, [{ kind: 'not_sent', reason: 'network' }]);
  await pay(h, m.key, o.id);
  await h.api('POST', `/v1/orders/${o.id}/capture`, { key: m.key, body: { amount: 9000 } });
  await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: { amount: 1000 } });
  await h.api('POST', `/v1/orders/${o.id}/refunds`, { key: m.key, body: {} });
  await h.runWorkers();
  const expected = [
    'order.created', 'order.processing', 'payment.declined', 'order.created', 'order.processing', 'payment.failed', 'order.created',
    'order.processing', 'order.authorized', 'order.processing', 'order.paid', 'refund.succeeded', 'order.partially_refunded',
    'refund.succeeded', 'order.refunded',
  ];
  t.deepEqual([...rx.types()].sort(), [...expected].sort());
  const wh = new Webhook(m.webhookSecret);
  const key = Buffer.from(m.webhookSecret.slice('whsec_'.length), 'base64');
  const ids = new Set<string>();
  for (const r of rx.received) {
    t.notThrows(() => wh.verify(r.body, r.headers), r.json.type);
    t.regex(r.headers['webhook-id']!, /^evt_/);
    t.regex(r.headers['webhook-timestamp']!, /^\d{10}$/);
    const mac = crypto.createHmac('sha256', key).update(`${r.headers['webhook-id']}.${r.headers['webhook-timestamp']}.${r.body}`).digest('base64');
    t.is(r.headers['webhook-signature'], `v1,${mac}`);
    t.is(r.headers['content-type'], 'application/json');
    ids.add(r.headers['webhook-id']!);
    // A tampered body does not verify.
    t.throws(() => wh.verify(r.body.replace('"type"', '"typ3"'), r.headers));
  }
  t.is(ids.size, rx.received.length, 'one event id per event');
  const paid = rx.received.find((r) => r.json.type === 'order.paid')!;
  t.like(paid.json.data, { id: o.id, status: 'paid', amount_captured: 9000, version: 9 });
  t.is(paid.json.data.payment.status, 'captured');
  const declined = rx.received.find((r) => r.json.type === 'payment.declined')!;
  t.like(declined.json.data, { object: 'payment', status: 'declined', decline_reason: 'do_not_honor' });
  // Versions only grow, so a receiver can drop stale events.
  const versions = rx.received.filter((r) => r.json.type.startsWith('order.')).map((r) => r.json.data.version as number).sort((a, b) => a - b);
  t.deepEqual(versions, Array.from({ length: versions.length }, (_, i) => i + 1));
  // Delivered once: another pass sends nothing.
  await h.runWorkers();
  t.is(rx.received.length, expected.length);

  // GET /v1/events shows the same events, filterable.
  const ev = await h.api('GET', `/v1/events?order_id=${o.id}&limit=100`, { key: m.key });
  t.is(ev.status, 200);
  t.is(ev.body.data.length, expected.filter((e) => e.startsWith('order.')).length);
  t.true(ev.body.data.every((e: { id: string; type: string; data: { id: string } }) => ids.has(e.id) && e.data.id === o.id));
  const onlyPaid = await h.api('GET', '/v1/events?type=order.paid', { key: m.key });
  t.deepEqual(onlyPaid.body.data.map((e: { id: string }) => e.id), [paid.headers['webhook-id']]);
  const page1 = await h.api('GET', '/v1/events?limit=4', { key: m.key });
  const page2 = await h.api('GET', `/v1/events?limit=4&starting_after=${page1.body.data[3].id}`, { key: m.key });
  t.true(page1.body.has_more);
  t.is(new Set([...page1.body.data, ...page2.body.data].map((e: { id: string }) => e.id)).size, 8);
});

test('an order notify_url overrides the merchant one; no URL means events without deliveries', async (t) => {
  const rx = await startWebhookReceiver();
  t.teardown(() => rx.close());
  const h = await kit.hub();
  const m = await h.createMerchant();
  const quiet = await newOrder(h, m.key);
  const loud = await newOrder(h, m.key, { notify_url: rx.url });
  await h.runWorkers();
  t.deepEqual(rx.received.map((r) => r.json.data.id), [loud.id]);
  t.is(await h.db('events').where({ entity_id: quiet.id }).count({ n: '*' }).first().then((r) => Number(r!.n)), 1);
  t.is(await h.db('webhook_deliveries').count({ n: '*' }).first().then((r) => Number(r!.n)), 1);
});

test('failed deliveries are retried on the schedule, then dead-lettered; retry sends one again', async (t) => {
  const rx = await startWebhookReceiver(500);
  t.teardown(() => rx.close());
  const h = await kit.hub();
  const schedule = h.config.webhooks.schedule;
  const scale = h.config.webhooks.scheduleScale;
  t.deepEqual(schedule, [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]);
  const m = await h.createMerchant({ notifyUrl: rx.url });
  const o = await newOrder(h, m.key);
  const [d] = await h.db('webhook_deliveries').where({ merchant_id: m.id });
  const sentAt: number[] = [];
  for (let i = 0; i < schedule.length + 1; i++) {
    const before = rx.received.length;
    await h.hub.webhooks.pass();
    t.is(rx.received.length, before + 1, `attempt ${i + 1} was sent`);
    const row = await h.db('webhook_deliveries').where({ id: d.id }).first();
    t.is(row.attempts, i + 1);
    t.is(row.last_status_code, 500);
    sentAt.push(Date.parse(row.updated_at));
    if (i < schedule.length) {
      t.is(row.status, 'pending');
      t.is(Date.parse(row.next_attempt_at) - Date.parse(row.updated_at), Math.round(schedule[i]! * 1000 * scale), `delay after attempt ${i + 1}`);
      // Not sent again before it is due.
      h.clock.advance(-60_000);
      await h.hub.webhooks.pass();
      t.is(rx.received.length, before + 1);
      h.clock.advance(60_000 + Math.round(schedule[i]! * 1000 * scale) + 1);
    } else {
      t.is(row.status, 'dead');
      t.is(row.next_attempt_at, null);
    }
  }
  // Every attempt carries the same webhook-id; each is signed for its own timestamp.
  t.is(new Set(rx.received.map((r) => r.headers['webhook-id'])).size, 1);
  await h.hub.webhooks.pass();
  t.is(rx.received.length, 10, 'a dead delivery is not retried by the worker');

  const list = await h.api('GET', '/v1/webhook-deliveries?status=dead', { key: m.key });
  t.is(list.status, 200);
  t.like(list.body.data[0], { id: d.id, status: 'dead', attempts: 10, last_status_code: 500, url: rx.url });
  rx.status = 204;
  const retry = await h.api('POST', `/v1/webhook-deliveries/${d.id}/retry`, { key: m.key });
  t.is(retry.status, 200, retry.text);
  t.like(retry.body, { id: d.id, status: 'succeeded', attempts: 11, last_status_code: 204 });
  t.is(rx.received.length, 11);
  t.is(rx.received[10]!.json.data.id, o.id);
  const other = await h.createMerchant({ name: 'Other' });
  t.is((await h.api('POST', `/v1/webhook-deliveries/${d.id}/retry`, { key: other.key })).status, 404);
  t.is((await h.api('GET', '/v1/webhook-deliveries', { key: other.key })).body.data.length, 0);
});

test('410 Gone dead-letters at once; a timeout or refused connection is retried', async (t) => {
  const rx = await startWebhookReceiver(410);
  t.teardown(() => rx.close());
  const h = await kit.hub();
  const m = await h.createMerchant({ notifyUrl: rx.url });
  await newOrder(h, m.key);
  await h.runWorkers();
  const [d] = await h.db('webhook_deliveries').where({ merchant_id: m.id });
  t.like(d, { status: 'dead', attempts: 1, last_status_code: 410 });

  const m2 = await h.createMerchant({ name: 'Closed port', notifyUrl: 'http://127.0.0.1:1/hooks' });
  await newOrder(h, m2.key);
  await h.runWorkers();
  const [d2] = await h.db('webhook_deliveries').where({ merchant_id: m2.id });
  t.is(d2.status, 'pending');
  t.is(d2.attempts, 1);
  t.truthy(d2.last_error);
});

test('private and loopback targets are refused unless webhooks.allowPrivate', async (t) => {
  const rx = await startWebhookReceiver();
  t.teardown(() => rx.close());
  const h = await kit.hub({ config: { webhooks: { allowPrivate: false } } });
  t.false(h.config.webhooks.allowPrivate);
  const m = await h.createMerchant({ notifyUrl: rx.url });
  await newOrder(h, m.key);
  for (const url of ['http://10.1.2.3/x', 'http://192.168.0.10/x', 'http://169.254.169.254/latest', 'http://[::1]:8080/x', 'http://localhost:9/x']) {
    await newOrder(h, m.key, { notify_url: url });
  }
  await h.runWorkers();
  t.is(rx.received.length, 0, 'nothing reached the loopback receiver');
  const rows = await h.db('webhook_deliveries').where({ merchant_id: m.id });
  t.is(rows.length, 6);
  for (const r of rows) {
    t.is(r.status, 'dead', r.url);
    t.regex(r.last_error, /private or loopback/);
  }
  const retry = await h.api('POST', `/v1/webhook-deliveries/${rows[0].id}/retry`, { key: m.key });
  t.is(retry.body.status, 'dead');
  t.is(rx.received.length, 0);
});
