import test from 'ava';
import fc from 'fast-check';
import { sha1Hash, signedString, verifyNotification } from '../src/signature';
import { amountDue } from '../src/emulator';

test('verified vector from YooMoney documentation', (t) => {
  const f = {
    notification_type: 'p2p-incoming', operation_id: '1234567', amount: '300.00', currency: '643',
    datetime: '2011-07-01T09:00:00.000+04:00', sender: '41001XXXXXXXX', codepro: 'false', label: 'YM.label.12345',
  };
  const secret = '01234567890ABCDEF01234567890';
  t.is(signedString(f, secret), 'p2p-incoming&1234567&300.00&643&2011-07-01T09:00:00.000+04:00&41001XXXXXXXX&false&01234567890ABCDEF01234567890&YM.label.12345');
  t.is(sha1Hash(f, secret), 'a2ee4a9195f4a90e893cff4f62eeba0b662321f9');
  t.true(verifyNotification({ ...f, sha1_hash: 'A2EE4A9195F4A90E893CFF4F62EEBA0B662321F9' }, secret));
});

test('computed vector: card payment with an empty sender', (t) => {
  const f = {
    notification_type: 'card-incoming', operation_id: '721628698123003817', amount: '98.00', currency: '643',
    datetime: '2024-05-14T10:20:30Z', sender: '', codepro: 'false', label: 'order-42',
  };
  t.is(sha1Hash(f, 'sEcReT+wOrD/123='), 'b1b465933eae9a31a71380fa8ef5103e7f88d94f');
});

test('missing or empty sha1_hash never verifies', (t) => {
  t.false(verifyNotification({ label: 'x' }, 's'));
  t.false(verifyNotification({ label: 'x', sha1_hash: '' }, 's'));
});

test('fee formula of the emulator (integers only)', (t) => {
  t.is(amountDue(10000, 'AC', 300), 9700); // 100.00 by card, 3 %
  t.is(amountDue(10000, 'PC', 100), 9901); // 100.00 / 1.01 = 99.0099 → 99.01
  t.is(amountDue(12345, 'AC', 0), 12345);
});

const SIGNED = ['notification_type', 'operation_id', 'amount', 'currency', 'datetime', 'sender', 'codepro', 'label', 'sha1_hash'] as const;
const fieldsArb = fc.record({
  notification_type: fc.string({ maxLength: 16 }), operation_id: fc.string({ maxLength: 20 }), amount: fc.string({ maxLength: 12 }),
  currency: fc.string({ maxLength: 3 }), datetime: fc.string({ maxLength: 30 }), sender: fc.string({ maxLength: 16 }),
  codepro: fc.constantFrom('true', 'false'), label: fc.string({ maxLength: 64 }),
});

function changeByte(s: string, pos: number, delta: number): string {
  const b = Buffer.from(s, 'latin1');
  if (b.length === 0) return String.fromCharCode(33 + (delta % 90));
  const i = pos % b.length;
  b[i] = (b[i]! + 1 + (delta % 254)) % 256;
  return b.toString('latin1');
}

test('property: verify(sign(x)) holds', (t) => {
  fc.assert(fc.property(fieldsArb, fc.string({ minLength: 1, maxLength: 40 }), (f, secret) =>
    verifyNotification({ ...f, sha1_hash: sha1Hash(f, secret) }, secret)));
  t.pass();
});

test('property: any one-byte change of a signed field or the hash fails', (t) => {
  fc.assert(fc.property(fieldsArb, fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom(...SIGNED), fc.nat(), fc.nat(), (f, secret, k, pos, delta) => {
    const form: Record<string, string> = { ...f, sha1_hash: sha1Hash(f, secret) };
    const changed = changeByte(form[k]!, pos, delta);
    fc.pre(!(k === 'sha1_hash' && changed.toLowerCase() === form[k]));
    // A "&" moved across a field boundary could keep the joined string; keep changes inside one field's meaning.
    fc.pre(!changed.includes('&') && !form[k]!.includes('&'));
    form[k] = changed;
    return !verifyNotification(form, secret);
  }));
  t.pass();
});
