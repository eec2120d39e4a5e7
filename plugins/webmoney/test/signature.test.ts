import test from 'ava';
import fc from 'fast-check';
import {
  lmiHash, lmiHash2, paymentFormSign, verifyNotification, type SignedFields,
} from '../src/signature';

// providers.md §2.4, [verified]: a real notification captured in a public repository.
const REAL: SignedFields = {
  LMI_PAYEE_PURSE: 'Z945718891756', LMI_PAYMENT_AMOUNT: '0.05', LMI_PAYMENT_NO: '3', LMI_MODE: '1',
  LMI_SYS_INVS_NO: '821', LMI_SYS_TRANS_NO: '458', LMI_SYS_TRANS_DATE: '20170221 20:25:01',
  LMI_PAYER_PURSE: 'Z945718891756', LMI_PAYER_WM: '059551878952',
};
const REAL_KEY = 'AD15BDAF-864A-4909-81E7-F034FFD0625C';

const COMPUTED: SignedFields = {
  LMI_PAYEE_PURSE: 'Z145179295679', LMI_PAYMENT_AMOUNT: '12.08', LMI_PAYMENT_NO: '1234', LMI_MODE: '0',
  LMI_SYS_INVS_NO: '281', LMI_SYS_TRANS_NO: '558', LMI_SYS_TRANS_DATE: '20020314 14:01:14',
  LMI_PAYER_PURSE: 'Z397000000473', LMI_PAYER_WM: '809000000852',
};

test('LMI_HASH2 reproduces the verified real notification', (t) => {
  t.is(lmiHash2(REAL, REAL_KEY), '8394AB2B012536D8535D3E1CB5917AB31E91EE891898B3AADD1FA887C9B2A0C2');
  t.is(lmiHash(REAL, REAL_KEY, 'sha256'), '8FE265B681239AD127FE6A0B552D8737DFAA1C275C67E8B9189A56C0AE68126A');
  t.is(lmiHash(REAL, REAL_KEY, 'md5'), 'EFAA3ACCE12CA4C7D5BB41B24F58A241');
});

test('computed vectors: md5, sha256, hash2, hash2 with LMI_HOLD', (t) => {
  t.is(lmiHash(COMPUTED, 'MySecretKey', 'md5'), 'DD0194B7348609FA995DF1AB7B0CA1D6');
  t.is(lmiHash(COMPUTED, 'MySecretKey', 'sha256'), 'BB1FD62AFCC541970498338C75DF17958EC07EA0681339A23007E384E46BDF9D');
  t.is(lmiHash2(COMPUTED, 'MySecretKey'), 'D585DADAF5E6A8397C5B7E20741F0D472FCA071B3FEB48D7B13BD31F1913CBD0');
  t.is(lmiHash2({ ...COMPUTED, LMI_HOLD: '7' }, 'MySecretKey'), 'BF867AF2C90953AE724E0A71EBB11E95653A58AFCE70E9867683B575DA6119BA');
});

test('payment form signature with and without the trailing semicolon', (t) => {
  const req = { purse: 'Z145179295679', amount: '12.08', paymentNo: '1234' };
  t.is(paymentFormSign(req, 'X20SecretKey', true), 'c8a3efb1ea28f356016b81dd0030627a7b105fffb909143bc611b2c4ff2391f7');
  t.is(paymentFormSign(req, 'X20SecretKey', false), '83f178bdce61d9667ed2565d8d3e8f79d6674d75a4e29edcb22726af5135c12a');
});

test('description base64 vector', (t) => {
  t.is(Buffer.from('Оплата заказа №1234', 'utf8').toString('base64'), '0J7Qv9C70LDRgtCwINC30LDQutCw0LfQsCDihJYxMjM0');
});

test('verifyNotification: real notification verifies, hex case ignored, missing hash refused', (t) => {
  const form: Record<string, string> = { ...(REAL as unknown as Record<string, string>), LMI_HASH2: '8394ab2b012536d8535d3e1cb5917ab31e91ee891898b3aadd1fa887c9b2a0c2' };
  t.true(verifyNotification(form, REAL_KEY, 'sha256').ok);
  t.false(verifyNotification(form, REAL_KEY + 'x', 'sha256').ok);
  const { LMI_HASH2: _h, ...bare } = form;
  t.deepEqual(verifyNotification(bare, REAL_KEY, 'sha256'), { ok: false, reason: 'missing_signature' });
  // Both present: both must match.
  t.false(verifyNotification({ ...form, LMI_HASH: 'EFAA3ACCE12CA4C7D5BB41B24F58A241' }, REAL_KEY, 'sha256').ok);
  t.true(verifyNotification({ ...form, LMI_HASH: 'EFAA3ACCE12CA4C7D5BB41B24F58A241' }, REAL_KEY, 'md5').ok);
});

const field = fc.string({ minLength: 0, maxLength: 20 });
const fieldsArb = fc.record({
  LMI_PAYEE_PURSE: field, LMI_PAYMENT_AMOUNT: field, LMI_PAYMENT_NO: field, LMI_MODE: field,
  LMI_SYS_INVS_NO: field, LMI_SYS_TRANS_NO: field, LMI_SYS_TRANS_DATE: field, LMI_PAYER_PURSE: field, LMI_PAYER_WM: field,
});
const keys = ['LMI_PAYEE_PURSE', 'LMI_PAYMENT_AMOUNT', 'LMI_PAYMENT_NO', 'LMI_MODE', 'LMI_SYS_INVS_NO',
  'LMI_SYS_TRANS_NO', 'LMI_SYS_TRANS_DATE', 'LMI_PAYER_PURSE', 'LMI_PAYER_WM', 'LMI_HASH', 'LMI_HASH2'] as const;

/** Changes one byte of a string (a different byte value; appends when empty). */
function changeByte(s: string, pos: number, delta: number): string {
  const b = Buffer.from(s, 'latin1');
  if (b.length === 0) return String.fromCharCode(33 + (delta % 90));
  const i = pos % b.length;
  b[i] = (b[i]! + 1 + (delta % 254)) % 256;
  return b.toString('latin1');
}

test('property: verify(sign(x)) holds for both hashes and methods', (t) => {
  fc.assert(fc.property(fieldsArb, fc.string({ minLength: 1, maxLength: 50 }), fc.constantFrom('sha256' as const, 'md5' as const), (f, key, m) => {
    const form = { ...f, LMI_HASH: lmiHash(f, key, m), LMI_HASH2: lmiHash2(f, key) };
    return verifyNotification(form, key, m).ok;
  }));
  t.pass();
});

test('property: any one-byte change of a signed field or a hash fails', (t) => {
  fc.assert(fc.property(fieldsArb, fc.string({ minLength: 1, maxLength: 50 }), fc.constantFrom(...keys), fc.nat(), fc.nat(),
    (f, key, k, pos, delta) => {
      const form: Record<string, string> = { ...f, LMI_HASH: lmiHash(f, key, 'sha256'), LMI_HASH2: lmiHash2(f, key) };
      const changed = changeByte(form[k]!, pos, delta);
      // A change of letter case in a hex digest is not a change (hex compares case-insensitively).
      fc.pre(!(k.startsWith('LMI_HASH') && changed.toUpperCase() === form[k]!.toUpperCase()));
      form[k] = changed;
      return !verifyNotification(form, key, 'sha256').ok;
    }));
  t.pass();
});
