import { inspect } from 'node:util';
import test from 'ava';
import { CardPayload } from '../src/payload';
import { scrub, toMethodOutcome, toRefundOutcome } from '../src/method';
import { findLeaks } from './helpers/db';

const PAN = '4111111111111111';

test('the in-memory payload never serialises the number or the CVC', (t) => {
  const p = new CardPayload(PAN, 12, 2030, '947', 'IVAN PETROV', undefined, false, false, 'visa');
  for (const text of [JSON.stringify(p), JSON.stringify({ payload: p }), inspect(p, { depth: 5 }), String(Object.keys(p)), JSON.stringify({ ...p })]) {
    t.false(text.includes(PAN), text);
    t.false(text.includes('947'), text);
  }
  t.is(JSON.parse(JSON.stringify(p)).masked, '411111******1111');
  const src = p.fundingSource();
  t.deepEqual(src, { type: 'card', number: PAN, expMonth: 12, expYear: 2030, cvc: '947', holder: 'IVAN PETROV' });
  p.forgetCvc();
  t.false(p.hasCvc);
  t.is((p.fundingSource() as { cvc?: string }).cvc, undefined);
});

test('a saved card without a CVC goes to the bank as a card_token source', (t) => {
  const p = new CardPayload(PAN, 12, 2030, undefined, undefined, 'ctok_abcdefghijklmnopqrstuv', false, false, 'visa');
  t.like(p.fundingSource(), { type: 'card_token', token: 'ctok_abcdefghijklmnopqrstuv', number: PAN });
  const withCvc = new CardPayload(PAN, 12, 2030, '947', undefined, 'ctok_abcdefghijklmnopqrstuv', false, false, 'visa');
  t.like(withCvc.fundingSource(), { type: 'card', cvc: '947' });
});

test('scrub masks any card-number-like run of digits in a text', (t) => {
  t.is(scrub(`bank said: bad card ${PAN} (x)`), 'bank said: bad card 411111******1111 (x)');
  t.is(scrub('card 4111 1111 1111 1111 refused'), 'card 411111******1111 refused');
  t.is(scrub('amount 12500 at 2026-11-27'), 'amount 12500 at 2026-11-27');
});

test('bank results map to engine outcomes', (t) => {
  t.deepEqual(toMethodOutcome({ outcome: 'processed', state: 'captured', bankRef: 'b1', authCode: 'A1' }, { brand: 'visa' }),
    { kind: 'processed', status: 'captured', providerRef: 'b1', methodData: { brand: 'visa', auth_code: 'A1' } });
  t.like(toMethodOutcome({ outcome: 'processed', state: 'authorized' }), { kind: 'processed', status: 'authorized' });
  t.like(toMethodOutcome({ outcome: 'processed', state: 'voided' }), { kind: 'canceled' });
  t.like(toMethodOutcome({ outcome: 'processed', state: 'refunded' }), { kind: 'processed', status: 'captured' });
  const ra = toMethodOutcome({ outcome: 'pending', challenge: { url: 'http://bank/3ds/x', expiresAt: '2030-01-01T00:00:00.000Z' }, bankRef: 'b2' });
  t.deepEqual(ra, { kind: 'requires_action', nextAction: { type: 'redirect', url: 'http://bank/3ds/x' }, providerRef: 'b2', actionExpiresAt: new Date('2030-01-01T00:00:00.000Z') });
  t.like(toMethodOutcome({ outcome: 'pending' }), { kind: 'pending' });
  t.like(toMethodOutcome({ outcome: 'declined', reason: 'do_not_honor', message: 'm' }), { kind: 'declined', reason: 'do_not_honor', message: 'm' });
  t.deepEqual(toMethodOutcome({ outcome: 'not_sent', reason: 'r' }), { kind: 'not_sent', reason: 'r' });
  t.deepEqual(toMethodOutcome({ outcome: 'unknown', reason: 'timeout' }), { kind: 'unknown', reason: 'timeout' });
  t.like(toRefundOutcome({ outcome: 'processed', state: 'refunded', bankRef: 'r1' }), { kind: 'processed', providerRef: 'r1' });
  t.like(toRefundOutcome({ outcome: 'declined', reason: 'x' }), { kind: 'declined', reason: 'x' });
  t.like(toRefundOutcome({ outcome: 'unknown', reason: 'x' }), { kind: 'unknown' });
});

test('the leak scanner finds a planted number, a grouped number and a standalone CVC, and ignores look-alikes', (t) => {
  const cells = [
    { table: 'a', column: 'x', text: `{"card":"${PAN}"}` },
    { table: 'b', column: 'y', text: 'pan 4111-1111-1111-1111' },
    { table: 'c', column: 'z', text: '{"cvc":"947"}' },
    { table: 'd', column: 'w', text: 'ord_Ab947Cd 411111******1111 2026-11-27T05:43:03.947Z' },
  ];
  const hits = findLeaks(cells, [PAN], ['947']);
  t.deepEqual(hits, ['a.x holds a card number', 'b.y holds a card number', 'c.z holds a CVC-like value 947']);
});
