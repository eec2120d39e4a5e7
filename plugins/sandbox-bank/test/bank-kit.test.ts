/**
 * The bank-kit helpers of @payhub/core, against real sockets on 127.0.0.1.
 */
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createBankHttpClient, classifyFetchError, signRequest, verifyRequestSignature, hmacSigner, createStatusMap,
  bankResultFromStatus, failureResult, isLuhnValid, isExpiryInFuture, canonicalRequest,
} from '@payhub/core';
import { closedPort } from './helpers';

/** A server whose behaviour per path is scripted. Returns its URL and what it received. */
async function scripted(handler: http.RequestListener) {
  const received: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      handler(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, received,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

test('connection refused is not_sent', async (t) => {
  const port = await closedPort();
  const client = createBankHttpClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
  const r = await client.request('POST', '/pay', { a: 1 });
  t.deepEqual(r, { kind: 'failure', outcome: 'not_sent', reason: 'connection_refused' });
});

test('a DNS failure is not_sent', async (t) => {
  // RFC 6761: names under .invalid never resolve.
  const client = createBankHttpClient({ baseUrl: 'http://no-such-host.invalid', timeoutMs: 5000 });
  const r = await client.request('GET', '/x');
  t.deepEqual(r, { kind: 'failure', outcome: 'not_sent', reason: 'dns_failure' });
});

test('a bank that never answers is unknown after the timeout, and the request did arrive', async (t) => {
  const s = await scripted(() => { /* hold the request */ });
  try {
    const client = createBankHttpClient({ baseUrl: s.url, timeoutMs: 200 });
    const r = await client.request('POST', '/pay', { reference: 'a1' });
    t.deepEqual(r, { kind: 'failure', outcome: 'unknown', reason: 'timeout' });
    t.is(s.received.length, 1);
  } finally {
    await s.close();
  }
});

test('a socket reset after sending is unknown', async (t) => {
  const s = await scripted((req) => req.socket.destroy());
  try {
    const r = await createBankHttpClient({ baseUrl: s.url, timeoutMs: 2000 }).request('POST', '/pay', {});
    t.deepEqual(r, { kind: 'failure', outcome: 'unknown', reason: 'connection_reset' });
  } finally {
    await s.close();
  }
});

test('5xx and unparsable bodies are unknown; 4xx JSON is an answer', async (t) => {
  const s = await scripted((req, res) => {
    if (req.url === '/500') { res.writeHead(503, { 'content-type': 'application/json' }); res.end('{"error":"busy"}'); return; }
    if (req.url === '/html') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<html>oops</html>'); return; }
    if (req.url === '/half') { res.writeHead(200, { 'content-type': 'application/json' }); res.write('{"status":'); return; }
    res.writeHead(422, { 'content-type': 'application/json' });
    res.end('{"error":"invalid"}');
  });
  try {
    const c = createBankHttpClient({ baseUrl: s.url, timeoutMs: 1000 });
    t.deepEqual(await c.request('GET', '/500'), { kind: 'failure', outcome: 'unknown', reason: 'http_503', status: 503 });
    t.deepEqual(await c.request('GET', '/html'), { kind: 'failure', outcome: 'unknown', reason: 'unparsable_body', status: 200 });
    t.like(await c.request('GET', '/half'), { kind: 'failure', outcome: 'unknown', status: 200 });
    t.like(await c.request('GET', '/422'), { kind: 'answer', status: 422, body: { error: 'invalid' } });
  } finally {
    await s.close();
  }
});

test('a bad base URL is not_sent', async (t) => {
  const r = await createBankHttpClient({ baseUrl: 'not a url', timeoutMs: 100 }).request('GET', '/x');
  t.deepEqual(r, { kind: 'failure', outcome: 'not_sent', reason: 'invalid_url' });
});

test('the signer signs exactly the bytes sent, and the verifier accepts them', async (t) => {
  const s = await scripted((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{}'); });
  try {
    const fixed = new Date('2030-01-01T00:00:00Z');
    const c = createBankHttpClient({ baseUrl: s.url, timeoutMs: 1000, now: () => fixed, sign: hmacSigner({ secret: 'k'.repeat(32), keyId: 'term-1' }) });
    await c.request('POST', '/v1/pay?x=1', { amount: 100 });
    const got = s.received[0]!;
    t.is(got.headers['x-key-id'], 'term-1');
    t.is(got.headers['x-timestamp'], String(fixed.getTime() / 1000));
    const v = verifyRequestSignature('k'.repeat(32), {
      method: got.method, path: got.url, timestamp: String(got.headers['x-timestamp']), body: got.body, signature: String(got.headers['x-signature']),
    }, { now: fixed });
    t.deepEqual(v, { ok: true });
  } finally {
    await s.close();
  }
});

test('the verifier refuses a changed body, a wrong secret, a stale timestamp and a missing signature', (t) => {
  const now = new Date('2030-01-01T00:00:00Z');
  const ts = String(now.getTime() / 1000);
  const req = { method: 'POST', path: '/v1/pay', timestamp: ts, body: '{"amount":100}' };
  const sig = signRequest('secret-1', req);
  t.is(sig, signRequest('secret-1', { ...req }));
  t.regex(sig, /^[0-9a-f]{64}$/);
  t.is(canonicalRequest(req), `POST\n/v1/pay\n${ts}\n{"amount":100}`);
  t.deepEqual(verifyRequestSignature('secret-1', { ...req, signature: sig }, { now }), { ok: true });
  t.deepEqual(verifyRequestSignature('secret-1', { ...req, body: '{"amount":999}', signature: sig }, { now }), { ok: false, reason: 'bad_signature' });
  t.deepEqual(verifyRequestSignature('secret-2', { ...req, signature: sig }, { now }), { ok: false, reason: 'bad_signature' });
  t.deepEqual(verifyRequestSignature('secret-1', { ...req, signature: sig }, { now: new Date(now.getTime() + 301_000) }), { ok: false, reason: 'stale' });
  t.deepEqual(verifyRequestSignature('secret-1', { ...req, signature: null }, { now }), { ok: false, reason: 'missing' });
  t.deepEqual(verifyRequestSignature('secret-1', { ...req, timestamp: '12ab', signature: sig }, { now }), { ok: false, reason: 'bad_timestamp' });
});

test('the status map never invents a success or a decline', (t) => {
  const map = createStatusMap({ APPROVED: 'authorized', Settled: 'captured', REJECTED: 'declined' });
  t.is(map('approved'), 'authorized');
  t.is(map(' SETTLED '), 'captured');
  t.is(map('REJECTED'), 'declined');
  t.is(map('IN_REVIEW'), 'pending');
  t.is(map('SUCCESS'), 'pending');
  t.is(map(undefined), 'unknown');
  t.is(map(42), 'unknown');
  t.is(createStatusMap({}, { fallback: 'unknown' })('whatever'), 'unknown');
  t.deepEqual(bankResultFromStatus('pending', { rawStatus: 'IN_REVIEW', bankRef: 'b1' }), { outcome: 'pending', bankRef: 'b1' });
  t.deepEqual(bankResultFromStatus('unknown', { rawStatus: 'WEIRD' }), { outcome: 'unknown', reason: 'bank status WEIRD' });
  t.deepEqual(bankResultFromStatus('declined', {}), { outcome: 'declined', reason: 'declined' });
  t.deepEqual(bankResultFromStatus('captured', { amountCaptured: 5 }), { outcome: 'processed', state: 'captured', amountCaptured: 5 });
});

test('failureResult turns every failed status query into unknown', (t) => {
  t.deepEqual(failureResult({ outcome: 'not_sent', reason: 'connection_refused' }), { outcome: 'not_sent', reason: 'connection_refused' });
  t.deepEqual(failureResult({ outcome: 'not_sent', reason: 'connection_refused' }, { read: true }), { outcome: 'unknown', reason: 'status query failed: connection_refused' });
});

test('classifyFetchError: AggregateError of refusals is not_sent, a mix with a reset is unknown', (t) => {
  const refused = Object.assign(new Error('x'), { code: 'ECONNREFUSED' });
  const reset = Object.assign(new Error('y'), { code: 'ECONNRESET' });
  const agg = (errs: Error[]) => Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new AggregateError(errs), { code: 'ECONNREFUSED' }) });
  t.deepEqual(classifyFetchError(agg([refused, refused])), { outcome: 'not_sent', reason: 'connection_refused' });
  t.is(classifyFetchError(agg([refused, reset])).outcome, 'unknown');
  t.deepEqual(classifyFetchError(Object.assign(new Error('t'), { name: 'TimeoutError' })), { outcome: 'unknown', reason: 'timeout' });
  t.deepEqual(classifyFetchError(new TypeError('fetch failed')), { outcome: 'unknown', reason: 'network_error' });
});

test('Luhn and expiry helpers', (t) => {
  for (const pan of ['4111111111111111', '5555555555554444', '2200000000000004', '4000000000000002', '4000000000009995', '4000000000003220', '4000000000000119']) {
    t.true(isLuhnValid(pan), pan);
  }
  t.false(isLuhnValid('4111111111111112'));
  t.false(isLuhnValid('41111'));
  t.false(isLuhnValid('4111-1111-1111-1111'));
  const now = new Date('2030-06-15T00:00:00Z');
  t.true(isExpiryInFuture(6, 2030, now));
  t.false(isExpiryInFuture(5, 2030, now));
  t.true(isExpiryInFuture(1, 31, now));
  t.false(isExpiryInFuture(13, 2031, now));
});
