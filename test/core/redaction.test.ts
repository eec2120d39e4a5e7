import test from 'ava';
import { Writable } from 'node:stream';
import { createTestHub } from '@payhub/core';
import { fixturePlugin } from '../helpers/paths';
import { internal } from '../helpers/internal';

const { createLogger } = internal<typeof import('../../core/src/logging')>('logging');

function capture() {
  const lines: string[] = [];
  const stream = new Writable({ write(c, _e, cb) { lines.push(String(c)); cb(); } });
  return { lines, logger: createLogger('info', stream) };
}

test('the logger redacts card numbers, CVC and Authorization headers', (t) => {
  const { lines, logger } = capture();
  logger.info({
    req: { headers: { authorization: 'Bearer sk_test_AAAAAAAAAAAAAAAAAAAAAAAA' } },
    body: { card: { number: '4111111111111111', cvc: '737' } },
    payload: { number: '5555 5555 5555 4444', cvc: '123' },
  }, 'paying with 4111 1111 1111 1111 and key sk_live_BBBBBBBBBBBBBBBBBBBB');
  const out = lines.join('');
  t.notRegex(out, /4111111111111111|4111 1111 1111 1111|5555 5555 5555 4444/);
  t.notRegex(out, /sk_test_AAAA|sk_live_BBBB/);
  t.notRegex(out, /"737"|"123"/);
  t.regex(out, /411111\*{6}1111/);
  t.regex(out, /\[redacted\]/);
});

test('a plugin logging a request body and Authorization leaks neither through the hub', async (t) => {
  const hub = await createTestHub({ plugins: [{ resolve: fixturePlugin('leaky-route') }] });
  t.teardown(() => hub.close());
  const r = await hub.api('POST', '/fixture/echo', {
    headers: { authorization: 'Bearer sk_test_CCCCCCCCCCCCCCCCCCCCCCCC' },
    body: { card: { number: '4000000000000002', cvc: '999' }, note: 'ok' },
  });
  t.is(r.status, 200);
  const logs = hub.logs.join('\n');
  t.true(logs.includes('echo'));
  t.false(logs.includes('4000000000000002'));
  t.false(logs.includes('sk_test_CCCC'));
  t.false(/"cvc":"999"/.test(logs));
});
