import test from 'ava';
import { createTestHub, type TestHub } from '@payhub/core';
import { fixturePlugin } from '../helpers/paths';

let hub: TestHub;
test.before(async () => {
  hub = await createTestHub({ plugins: [{ resolve: fixturePlugin('leaky-route') }] });
});
test.after.always(() => hub?.close());

const isProblem = (t: import('ava').ExecutionContext, r: { status: number; headers: Record<string, string>; body: any }, status: number, code: string) => {
  t.is(r.status, status);
  t.regex(r.headers['content-type'] ?? '', /^application\/problem\+json/);
  t.is(r.body.status, status);
  t.is(r.body.code, code);
  t.is(typeof r.body.type, 'string');
  t.is(typeof r.body.title, 'string');
  t.is(typeof r.body.detail, 'string');
};

test('health and readiness', async (t) => {
  t.deepEqual((await hub.api('GET', '/health')).body, { status: 'ok' });
  const r = await hub.api('GET', '/ready');
  t.is(r.status, 200);
  t.is(r.body.checks.database, 'ok');
  t.is(r.body.checks['plugin:leaky-route'], 'ready');
});

test('an unknown route is a problem document', async (t) => {
  isProblem(t, await hub.api('GET', '/nope'), 404, 'not_found');
});

test('malformed JSON is a 400 problem', async (t) => {
  const m = await hub.createMerchant();
  isProblem(t, await hub.api('POST', '/v1/orders', { key: m.key, raw: '{"amount": 1,' }), 400, 'malformed_json');
});

test('invalid fields are a 422 naming each field', async (t) => {
  const m = await hub.createMerchant();
  const r = await hub.api('POST', '/v1/orders', { key: m.key, body: { order_number: 'x1', amount: 1.5, currency: 'XXX', colour: 'red' } });
  isProblem(t, r, 422, 'validation_failed');
  t.deepEqual(r.body.errors.map((e: { field: string }) => e.field).sort(), ['amount', 'colour', 'currency']);
});

test('a server error shows no message, no stack and no secret', async (t) => {
  const r = await hub.api('GET', '/fixture/boom');
  isProblem(t, r, 500, 'internal_error');
  t.notRegex(r.text, /hunter2|\/srv\/secret|at .*\.js/);
  t.is(r.body.detail, 'An internal error occurred');
});

test('X-Request-Id is honoured, or generated, and echoed in problems', async (t) => {
  const given = await hub.api('GET', '/nope', { headers: { 'x-request-id': 'req-abc.123' } });
  t.is(given.headers['x-request-id'], 'req-abc.123');
  t.is(given.body.request_id, 'req-abc.123');
  const made = await hub.api('GET', '/health', { headers: { 'x-request-id': 'bad id with spaces' } });
  t.regex(made.headers['x-request-id']!, /^[0-9a-f-]{36}$/);
});

test('an oversized JSON body is refused', async (t) => {
  const m = await hub.createMerchant();
  const r = await hub.api('POST', '/v1/orders', { key: m.key, raw: JSON.stringify({ description: 'x'.repeat(300_000) }) });
  isProblem(t, r, 413, 'body_too_large');
});

test('metrics count requests by route template', async (t) => {
  const m = await hub.createMerchant();
  await hub.api('GET', '/v1/orders/ord_doesnotexist', { key: m.key });
  const r = await hub.api('GET', '/metrics');
  t.is(r.status, 200);
  t.regex(r.text, /payhub_http_requests_total\{method="GET",route="\/v1\/orders\/:id",status="404"\} \d+/);
  t.regex(r.text, /payhub_http_request_duration_seconds_bucket/);
  t.notRegex(r.text, /ord_doesnotexist/);
});

test('one JSON log line per request with id, route, status and duration', async (t) => {
  await hub.api('GET', '/health', { headers: { 'x-request-id': 'log-line-check' } });
  const line = hub.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === 'log-line-check');
  t.truthy(line);
  t.is(line.route, '/health');
  t.is(line.status, 200);
  t.is(typeof line.durationMs, 'number');
});
