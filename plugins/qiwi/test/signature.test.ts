import test from 'ava';
import fc from 'fast-check';
import crypto from 'node:crypto';
import { billOf, invoiceParameters, signBill, twoDecimals, verifyBill, type SignedBill } from '../src/signature';

const hmac = (key: string, msg: string) => crypto.createHmac('sha256', key).update(msg).digest('hex');

test('verified vector from QIWI docs/SDK', (t) => {
  const b: SignedBill = { siteId: 'test', billId: 'test_bill', amount: { value: '1.00', currency: 'RUB' }, status: { value: 'PAID' } };
  t.is(invoiceParameters(b), 'RUB|1.00|test_bill|test|PAID');
  const key = 'test-merchant-secret-for-signature-check';
  t.is(signBill(b, key), '07e0ebb10916d97760c196034105d010607a6c6b7d72bfa1c3451448ac484a3b');
  t.true(verifyBill(b, key, '07E0EBB10916D97760C196034105D010607A6C6B7D72BFA1C3451448AC484A3B'));
  // The SDK hashes "1.00" also when "1" travelled.
  t.true(verifyBill({ ...b, amount: { value: '1', currency: 'RUB' } }, key, '07e0ebb10916d97760c196034105d010607a6c6b7d72bfa1c3451448ac484a3b'));
});

test('computed vector', (t) => {
  const b: SignedBill = { siteId: '9hh4jb-00', billId: 'cc961e8d-d4d6-4f02-b737-2297e51fb48e', amount: { value: '100.00', currency: 'RUB' }, status: { value: 'PAID' } };
  t.is(signBill(b, 'eyJ2ZXJzaW9uIjoiUDJQIiwiZGF0YSI6e319'), '94f6d5a7d2662433e508c47b9e57089dfded69718d2e3eaa180adb060d9443ad');
  t.is(hmac('eyJ2ZXJzaW9uIjoiUDJQIiwiZGF0YSI6e319', 'RUB|100.00|cc961e8d-d4d6-4f02-b737-2297e51fb48e|9hh4jb-00|PAID'), '94f6d5a7d2662433e508c47b9e57089dfded69718d2e3eaa180adb060d9443ad');
});

test('two decimals without floats', (t) => {
  t.is(twoDecimals('1'), '1.00');
  t.is(twoDecimals('10.5'), '10.50');
  t.is(twoDecimals('0.07'), '0.07');
  t.is(twoDecimals('1.005'), null);
  t.is(twoDecimals('1e3'), null);
});

test('billOf reads the signed fields and refuses other shapes', (t) => {
  t.deepEqual(billOf({ bill: { siteId: 's', billId: 'b', amount: { value: '1.00', currency: 'RUB' }, status: { value: 'PAID' } } }),
    { siteId: 's', billId: 'b', amount: { value: '1.00', currency: 'RUB' }, status: { value: 'PAID' } });
  t.is(billOf({ bill: { siteId: 's' } }), null);
  t.is(billOf(null), null);
  t.false(verifyBill({ siteId: 's', billId: 'b', amount: { value: '1.00', currency: 'RUB' }, status: { value: 'PAID' } }, 'k', undefined));
});

const amountArb = fc.tuple(fc.nat({ max: 10_000_000 }), fc.nat({ max: 99 })).map(([a, b]) => `${a}.${String(b).padStart(2, '0')}`);
const billArb = fc.record({
  siteId: fc.string({ maxLength: 20 }), billId: fc.string({ maxLength: 40 }),
  amount: fc.record({ value: amountArb, currency: fc.constantFrom('RUB', 'KZT') }),
  status: fc.record({ value: fc.constantFrom('PAID', 'REJECTED', 'EXPIRED', 'WAITING') }),
});

function changeByte(s: string, pos: number, delta: number): string {
  const b = Buffer.from(s, 'latin1');
  if (b.length === 0) return String.fromCharCode(33 + (delta % 90));
  const i = pos % b.length;
  b[i] = (b[i]! + 1 + (delta % 254)) % 256;
  return b.toString('latin1');
}

test('property: verify(sign(x)) holds', (t) => {
  fc.assert(fc.property(billArb, fc.string({ minLength: 1, maxLength: 60 }), (b, key) => verifyBill(b, key, signBill(b, key))));
  t.pass();
});

test('property: any one-byte change of a signed field or the signature fails', (t) => {
  const paths = ['siteId', 'billId', 'amount.value', 'amount.currency', 'status.value', 'signature'] as const;
  fc.assert(fc.property(billArb, fc.string({ minLength: 1, maxLength: 60 }), fc.constantFrom(...paths), fc.nat(), fc.nat(), (b0, key, p, pos, delta) => {
    const b = structuredClone(b0) as SignedBill;
    let sig = signBill(b, key);
    const get = (): string => (p === 'signature' ? sig : p.includes('.') ? (b as any)[p.split('.')[0]!][p.split('.')[1]!] : (b as any)[p]); // eslint-disable-line @typescript-eslint/no-explicit-any
    const set = (v: string) => {
      if (p === 'signature') sig = v;
      else if (p.includes('.')) (b as any)[p.split('.')[0]!][p.split('.')[1]!] = v; // eslint-disable-line @typescript-eslint/no-explicit-any
      else (b as any)[p] = v; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const before = get();
    const changed = changeByte(before, pos, delta);
    fc.pre(!(p === 'signature' && changed.toLowerCase() === before));
    fc.pre(!changed.includes('|') && !before.includes('|'));
    // "1.5" and "1.50" are the same amount by the protocol's own normalisation; not a change of the message.
    fc.pre(!(p === 'amount.value' && twoDecimals(changed) === twoDecimals(before)));
    set(changed);
    return !verifyBill(b, key, sig);
  }));
  t.pass();
});
