import test from 'ava';
import fc from 'fast-check';
import { maskPan } from '@payhub/core';
import { checkNumber, detectBrand, luhnValid, validateCard } from '../src/validation';
import type { FieldError } from '@payhub/core';

const NOW = new Date('2026-11-27T12:00:00Z');
const base = { exp_month: 12, exp_year: 2030, cvc: '739', holder: 'IVAN PETROV' };

const validByBrand: Array<[string, string]> = [
  ['visa', '4111111111111111'],
  ['visa', '4000000000000002'],
  ['mastercard', '5555555555554444'],
  ['mastercard', '2221000000000009'],
  ['mir', '2200000000000004'],
  ['mir', '2204000000000000'],
  ['maestro', '6759649826438453'],
  ['unionpay', '6200000000000005'],
  ['jcb', '3530111333300000'],
];

for (const [brand, number] of validByBrand) {
  test(`accepts a valid ${brand} card (${maskPan(number)})`, (t) => {
    const r = validateCard({ ...base, number }, NOW, { holderRequired: true });
    t.true(r.ok);
    if (r.ok) {
      t.is(r.card.brand as string, brand);
      t.is(r.card.number, number);
    }
  });
}

test('MIR range is 2200-2204: 2205… is not MIR and is refused', (t) => {
  t.is(detectBrand('2204000000000000')?.brand, 'mir');
  const r = validateCard({ ...base, number: '2205000000000002' }, NOW, { holderRequired: false });
  t.false(r.ok);
});

test('spaces and dashes between groups are stripped', (t) => {
  const r = validateCard({ ...base, number: '4111 1111-1111 1111' }, NOW, { holderRequired: false });
  t.true(r.ok);
  if (r.ok) t.is(r.card.number, '4111111111111111');
});

function fieldErrors(card: Record<string, unknown>, holderRequired = false): FieldError[] {
  const r = validateCard(card, NOW, { holderRequired });
  return r.ok ? [] : r.errors;
}

const refused: Array<[string, Record<string, unknown>, string, boolean?]> = [
  ['Luhn-invalid number', { number: '4111111111111112' }, 'card.number'],
  ['letters in the number', { number: '4111a11111111111' }, 'card.number'],
  ['number as a JSON number', { number: 4111111111111111 }, 'card.number'],
  ['missing number', { number: undefined }, 'card.number'],
  ['American Express (unsupported brand)', { number: '378282246310005', cvc: '7391' }, 'card.number'],
  ['Discover (unsupported brand)', { number: '6011111111111117' }, 'card.number'],
  ['unknown prefix', { number: '9999999999999995' }, 'card.number'],
  ['Visa with 15 digits', { number: '411111111111116' }, 'card.number'],
  ['Mastercard with 17 digits', { number: '55555555555544440' }, 'card.number'],
  ['expired last month', { exp_month: 10, exp_year: 2026 }, 'card.exp_year'],
  ['expired last year', { exp_month: 12, exp_year: 2025 }, 'card.exp_year'],
  ['month 13', { exp_month: 13 }, 'card.exp_month'],
  ['month 0', { exp_month: 0 }, 'card.exp_month'],
  ['year as words', { exp_year: 'soon' }, 'card.exp_year'],
  ['expiry 25 years ahead', { exp_year: 2052 }, 'card.exp_year'],
  ['CVC of 2 digits', { cvc: '73' }, 'card.cvc'],
  ['CVC of 4 digits on Visa', { cvc: '7391' }, 'card.cvc'],
  ['CVC of 4 digits on MIR', { number: '2200000000000004', cvc: '7391' }, 'card.cvc'],
  ['CVC with a letter', { cvc: '73a' }, 'card.cvc'],
  ['CVC as a number', { cvc: 739 }, 'card.cvc'],
  ['missing CVC', { cvc: undefined }, 'card.cvc'],
  ['holder in Cyrillic', { holder: 'ИВАН ПЕТРОВ' }, 'card.holder'],
  ['holder of 1 letter', { holder: 'I' }, 'card.holder'],
  ['holder of 27 characters', { holder: 'A'.repeat(27) }, 'card.holder'],
  ['holder with digits', { holder: 'IVAN 2' }, 'card.holder'],
  ['holder missing on the page', { holder: undefined }, 'card.holder', true],
];

for (const [name, patch, field, holderRequired] of refused) {
  test(`refuses ${name} naming ${field}`, (t) => {
    const card = { ...base, number: '4111111111111111', ...patch };
    const errors = fieldErrors(card, holderRequired ?? false);
    t.true(errors.some((e) => e.field === field), JSON.stringify(errors));
    const num = typeof card.number === 'string' ? card.number : '';
    for (const e of errors) {
      if (num) t.false(e.message.includes(num) || e.message.includes(num.slice(-4)), 'no part of the number in messages');
      t.false(e.message.includes('739'), 'no CVC in messages');
    }
  });
}

test('the current month is not expired; two-digit years are 20yy', (t) => {
  t.true(validateCard({ ...base, number: '4111111111111111', exp_month: 11, exp_year: 26 }, NOW, { holderRequired: false }).ok);
  t.true(validateCard({ ...base, number: '4111111111111111', exp_month: '11', exp_year: '2026' }, NOW, { holderRequired: false }).ok);
});

test('holder is optional for the API and required for the page; allowed punctuation passes', (t) => {
  t.true(validateCard({ ...base, number: '4111111111111111', holder: undefined }, NOW, { holderRequired: false }).ok);
  t.false(validateCard({ ...base, number: '4111111111111111', holder: '  ' }, NOW, { holderRequired: true }).ok);
  const r = validateCard({ ...base, number: '4111111111111111', holder: "  Mary-Ann  O'Neil Jr. " }, NOW, { holderRequired: true });
  t.true(r.ok);
  if (r.ok) t.is(r.card.holder, "Mary-Ann O'Neil Jr.");
});

test('every field error is reported at once', (t) => {
  const errors = fieldErrors({ number: '4111111111111112', exp_month: 13, exp_year: 2030, cvc: '1', holder: 'X' });
  t.deepEqual(errors.map((e) => e.field).sort(), ['card.cvc', 'card.exp_month', 'card.holder', 'card.number']);
});

test('a card that is not an object is refused', (t) => {
  t.deepEqual(fieldErrors('4111111111111111' as unknown as Record<string, unknown>).map((e) => e.field), ['card']);
});

/** A Luhn-valid number of `length` digits starting with `prefix`. */
function withCheckDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  throw new Error('unreachable');
}

const supportedNumber = fc
  .record({
    prefix: fc.constantFrom('4', '51', '55', '2221', '2720', '2200', '2204', '6759', '62', '3530', '3589'),
    length: fc.constant(16),
    digits: fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 19, maxLength: 19 }),
  })
  .map(({ prefix, length, digits }) => withCheckDigit(prefix + digits.join('').slice(0, length - prefix.length - 1)));

test('property: a generated Luhn-valid number with one digit changed is refused (or is another valid number)', (t) => {
  fc.assert(fc.property(supportedNumber, fc.nat(), fc.integer({ min: 1, max: 9 }), (pan, posSeed, delta) => {
    const pos = posSeed % pan.length;
    const changed = pan.slice(0, pos) + String((Number(pan[pos]) + delta) % 10) + pan.slice(pos + 1);
    const errors: FieldError[] = [];
    const r = checkNumber(changed, errors);
    if (r === null) return errors.length === 1 && errors[0]!.field === 'card.number' && !errors[0]!.message.includes(changed);
    return r.digits !== pan && luhnValid(r.digits);
  }), { numRuns: 2000 });
  t.pass();
});

test('property: generated numbers of supported brands are accepted', (t) => {
  fc.assert(fc.property(supportedNumber, (pan) => checkNumber(pan, []) !== null), { numRuns: 1000 });
  t.pass();
});

test('property: no error message ever contains 4+ consecutive digits of the input number', (t) => {
  fc.assert(fc.property(fc.string({ unit: fc.constantFrom('0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ' ', '-', 'x'), maxLength: 30 }), (raw) => {
    const errors: FieldError[] = [];
    checkNumber(raw, errors);
    const digits = raw.replace(/\D/g, '');
    return errors.every((e) => {
      for (let i = 0; i + 4 <= digits.length; i++) if (e.message.includes(digits.slice(i, i + 4))) return false;
      return true;
    });
  }), { numRuns: 1000 });
  t.pass();
});

test('property: maskPan shows at most BIN (6) + last 4 digits', (t) => {
  fc.assert(fc.property(fc.integer({ min: 12, max: 19 }), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 19, maxLength: 19 }), (len, ds) => {
    const pan = ds.slice(0, len).join('');
    const m = maskPan(pan);
    return m.length === len && m.replace(/\*/g, '').length === 10 && m.startsWith(pan.slice(0, 6)) && m.endsWith(pan.slice(-4));
  }));
  t.pass();
});
