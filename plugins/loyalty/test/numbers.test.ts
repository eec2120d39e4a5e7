import test from 'ava';
import { luhnValid, mulDivFloor, newCardNumber } from '../src/numbers';

test('card numbers: in the range, Luhn-valid; a changed digit fails', (t) => {
  for (let i = 0; i < 50; i++) {
    const n = newCardNumber('9643', 16);
    t.regex(n, /^9643\d{12}$/);
    t.true(luhnValid(n));
    const last = Number(n[15]);
    t.false(luhnValid(n.slice(0, 15) + String((last + 1) % 10)));
  }
  t.true(luhnValid('4111111111111111'));
  t.false(luhnValid('4111111111111112'));
});

test('mulDivFloor is exact integer arithmetic (floor), also past 2^53 intermediates', (t) => {
  t.is(mulDivFloor(1000, 3333, 10000), 333);
  t.is(mulDivFloor(10001, 1000, 10000), 1000);
  t.is(mulDivFloor(9_000_000_000_000, 9_999, 10_000), 8_999_100_000_000);
  t.is(mulDivFloor(5, 5, 0), 0);
});
