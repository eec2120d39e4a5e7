import test from 'ava';
import { blockListOf, cidrRange, inBlockList, ipHex, parseCidr } from '../src/ip';
import { decide, evaluate, rulesSchema } from '../src/rules';
import type { Facts } from '../src/rules';

const facts: Facts = { amount: 1000, currency: 'RUB', fingerprint: 'a'.repeat(64), email: 'b@x.ru', ip: '10.0.0.1', brand: 'visa', cardCountry: 'RU', ipCountry: null };
const none = { velocity: [], declines: null, dayTotals: [] };

test('IPv4 and IPv6 ranges as comparable hex; mapped addresses are IPv4', (t) => {
  const r = cidrRange(parseCidr('10.1.0.0/16')!);
  t.true(r.start <= ipHex('10.1.255.255')! && ipHex('10.1.255.255')! <= r.end);
  t.false(ipHex('10.2.0.0')! <= r.end);
  t.is(ipHex('::ffff:10.1.2.3'), ipHex('10.1.2.3'));
  const v6 = cidrRange(parseCidr('2001:db8::/32')!);
  t.true(v6.start <= ipHex('2001:db8:ffff::1')! && ipHex('2001:db8:ffff::1')! <= v6.end);
  t.false(ipHex('2001:db9::')! <= v6.end);
  t.is(parseCidr('10.0.0.0/33'), null);
  t.is(parseCidr('nonsense'), null);
  const bl = blockListOf(['10.1.0.0/16', '2001:db8::/32']);
  t.true(inBlockList(bl, '::ffff:10.1.9.9'));
  t.true(inBlockList(bl, '2001:db8::5'));
  t.false(inBlockList(bl, '10.2.0.1'));
});

test('amount limit fires above the maximum, not at it; review vs deny', (t) => {
  const rules = rulesSchema.parse({ amount_per_transaction: [{ currency: 'RUB', max: 1000, action: 'review' }] });
  t.deepEqual(evaluate(rules, facts, none, { ip: false }), []);
  const fired = evaluate(rules, { ...facts, amount: 1001 }, none, { ip: false });
  t.deepEqual(fired, [{ rule: 'amount_per_transaction', action: 'review', value: 1001, threshold: 1000 }]);
  t.is(decide(fired), 'review');
  t.is(decide([...fired, { rule: 'x', action: 'deny' }]), 'deny');
  t.is(decide([]), 'allow');
});

test('rules schema refuses bad values and names the field', (t) => {
  const r = rulesSchema.safeParse({ velocity: [{ key: 'phone', max_attempts: 0, window_minutes: 5 }], blocklist: { ip_ranges: ['300.0.0.0/8'] } });
  t.false(r.success);
  const paths = r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
  t.true(paths.includes('velocity.0.key'));
  t.true(paths.includes('velocity.0.max_attempts'));
  t.true(paths.includes('blocklist.ip_ranges.0'));
});
