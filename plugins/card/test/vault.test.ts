import crypto from 'node:crypto';
import test from 'ava';
import { CardVault, decryptPan, panAad } from '../src/vault';
import { TestKeyring, allCellText, findLeaks, fixedClock, testDb } from './helpers/db';

const K1 = crypto.randomBytes(32);
const K2 = crypto.randomBytes(32);
const clock = fixedClock('2026-11-27T12:00:00Z');
const PANS = ['4111111111111111', '5555555555554444', '2200000000000004'];

test('round trip: a saved card loads back for its merchant only; the database holds no number in clear', async (t) => {
  const h = await testDb();
  t.teardown(() => h.close());
  const vault = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  const token = await vault.save({ merchantId: 'mer_A', number: PANS[0]!, brand: 'visa', expMonth: 12, expYear: 2030 });
  t.regex(token, /^ctok_[0-9A-Za-z]{22}$/);
  const card = await vault.load('mer_A', token);
  t.truthy(card);
  t.is(card!.number, PANS[0]);
  t.is(card!.masked, '411111******1111');
  t.is(card!.expMonth, 12);
  t.is(card!.expYear, 2030);
  t.is(await vault.load('mer_B', token), null, 'another merchant cannot load the card');
  t.is(await vault.findByFingerprint('mer_A', vault.fingerprint(PANS[0]!)), token);
  t.is(await vault.findByFingerprint('mer_B', vault.fingerprint(PANS[0]!)), null);
  t.not(vault.fingerprint(PANS[0]!), vault.fingerprint(PANS[1]!));

  const row = await h.db('card_vault').where({ token }).first();
  t.is(row.masked, '411111******1111');
  t.false(String(row.pan_enc).includes(PANS[0]!));
  t.deepEqual(findLeaks(await allCellText(h.db, h.kind), PANS, []), []);
});

test('a fresh vault creates one data key and reuses it; the data key is stored wrapped only', async (t) => {
  const h = await testDb();
  t.teardown(() => h.close());
  const keyring = new TestKeyring(1, { 1: K1 });
  const vault = new CardVault(h.db, keyring, clock);
  await vault.save({ merchantId: 'mer_A', number: PANS[0]!, brand: 'visa', expMonth: 1, expYear: 2031 });
  await vault.save({ merchantId: 'mer_A', number: PANS[1]!, brand: 'mastercard', expMonth: 1, expYear: 2031 });
  const keys = await h.db('card_data_keys').select('*');
  t.is(keys.length, 1);
  t.is(Number(keys[0].master_key_version), 1);
  t.regex(keys[0].wrapped_key, /^v1\./);
  const dek = Buffer.from(keyring.decrypt(keys[0].wrapped_key, `card_data_keys|${keys[0].id}`), 'base64');
  t.is(dek.length, 32);
  // A second vault object (another process) opens the cards with the stored data key.
  const other = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  const tokens = (await h.db('card_vault').select('token')).map((r: { token: string }) => r.token);
  for (const tok of tokens) t.truthy(await other.load('mer_A', tok));
});

test('AAD binding: a ciphertext moved to another token (or merchant) fails to decrypt', async (t) => {
  const h = await testDb();
  t.teardown(() => h.close());
  const vault = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  const a = await vault.save({ merchantId: 'mer_A', number: PANS[0]!, brand: 'visa', expMonth: 12, expYear: 2030 });
  const b = await vault.save({ merchantId: 'mer_A', number: PANS[1]!, brand: 'mastercard', expMonth: 12, expYear: 2030 });
  const rowA = await h.db('card_vault').where({ token: a }).first();
  await h.db('card_vault').where({ token: b }).update({ pan_enc: rowA.pan_enc });
  await t.throwsAsync(vault.load('mer_A', b), { message: /failed authentication/ });
  // The genuine row still opens.
  t.is((await vault.load('mer_A', a))!.number, PANS[0]);
  // The same ciphertext under a different merchant id in the AAD fails too.
  const dekRow = await h.db('card_data_keys').first();
  const dek = Buffer.from(new TestKeyring(1, { 1: K1 }).decrypt(dekRow.wrapped_key, `card_data_keys|${dekRow.id}`), 'base64');
  t.is(decryptPan(dek, rowA.pan_enc, panAad(a, 'mer_A')), PANS[0]);
  t.throws(() => decryptPan(dek, rowA.pan_enc, panAad(a, 'mer_B')));
});

test('a tampered ciphertext fails, and the error never carries card data', async (t) => {
  const h = await testDb();
  t.teardown(() => h.close());
  const vault = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  const a = await vault.save({ merchantId: 'mer_A', number: PANS[0]!, brand: 'visa', expMonth: 12, expYear: 2030 });
  const row = await h.db('card_vault').where({ token: a }).first();
  const parts = String(row.pan_enc).split('.');
  const data = Buffer.from(parts[3]!, 'base64url');
  data[0] ^= 0x01;
  parts[3] = data.toString('base64url');
  await h.db('card_vault').where({ token: a }).update({ pan_enc: parts.join('.') });
  const e = await t.throwsAsync(vault.load('mer_A', a));
  t.false(e!.message.includes(PANS[0]!));
  t.false(e!.message.includes(parts[3]!));
});

test('saving the same token again refreshes the expiry; a token of another card is refused', async (t) => {
  const h = await testDb();
  t.teardown(() => h.close());
  const vault = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  const a = await vault.save({ merchantId: 'mer_A', number: PANS[0]!, brand: 'visa', expMonth: 12, expYear: 2030 });
  t.is(await vault.save({ token: a, merchantId: 'mer_A', number: PANS[0]!, brand: 'visa', expMonth: 3, expYear: 2032 }), a);
  const c = await vault.load('mer_A', a);
  t.deepEqual([c!.expMonth, c!.expYear], [3, 2032]);
  await t.throwsAsync(vault.save({ token: a, merchantId: 'mer_A', number: PANS[1]!, brand: 'mastercard', expMonth: 3, expYear: 2032 }));
  await t.throwsAsync(vault.save({ token: a, merchantId: 'mer_B', number: PANS[0]!, brand: 'visa', expMonth: 3, expYear: 2032 }));
  t.is((await vault.load('mer_A', a))!.number, PANS[0]);
});

test('master key rotation re-wraps every data key; the cards then open with the new key alone', async (t) => {
  const h = await testDb();
  t.teardown(() => h.close());
  const v1 = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  const tokens = [];
  for (const pan of PANS) tokens.push(await v1.save({ merchantId: 'mer_A', number: pan, brand: 'visa', expMonth: 12, expYear: 2030 }));
  await v1.rotateDataKey(); // a second data key generation exists now
  const t4 = await v1.save({ merchantId: 'mer_B', number: PANS[0]!, brand: 'visa', expMonth: 12, expYear: 2030 });
  const before = await h.db('card_data_keys').select('*');
  const cardsBefore = await h.db('card_vault').select('token', 'pan_enc').orderBy('token');

  // Master key 2 is configured; key 1 stays available as a previous key while rotating.
  const v2 = new CardVault(h.db, new TestKeyring(2, { 1: K1, 2: K2 }), clock);
  const r = await v2.rewrapDataKeys();
  t.deepEqual(r, { version: 2, dataKeys: before.length, rewrapped: before.length, alreadyCurrent: 0 });
  const after = await h.db('card_data_keys').select('*');
  for (const k of after) {
    t.is(Number(k.master_key_version), 2);
    t.regex(k.wrapped_key, /^v2\./);
  }
  t.deepEqual(await h.db('card_vault').select('token', 'pan_enc').orderBy('token'), cardsBefore, 'card ciphertexts are untouched');

  // Second run: nothing to do.
  t.deepEqual(await v2.rewrapDataKeys(), { version: 2, dataKeys: before.length, rewrapped: 0, alreadyCurrent: before.length });

  // Key 1 retired: a keyring holding only key 2 still opens every card.
  const only2 = new CardVault(h.db, new TestKeyring(2, { 2: K2 }), clock);
  for (const [i, tok] of tokens.entries()) t.is((await only2.load('mer_A', tok))!.number, PANS[i]);
  t.is((await only2.load('mer_B', t4))!.number, PANS[0]);
  // And key 1 alone no longer does.
  const only1 = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  await t.throwsAsync(only1.load('mer_A', tokens[0]!));
});

test('rotation without the old master key fails and changes nothing', async (t) => {
  const h = await testDb();
  t.teardown(() => h.close());
  const v1 = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  const tok = await v1.save({ merchantId: 'mer_A', number: PANS[0]!, brand: 'visa', expMonth: 12, expYear: 2030 });
  const before = await h.db('card_data_keys').select('*');
  const v2 = new CardVault(h.db, new TestKeyring(2, { 2: K2 }), clock);
  await t.throwsAsync(v2.rewrapDataKeys());
  t.deepEqual(await h.db('card_data_keys').select('*'), before);
  t.is((await new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock).load('mer_A', tok))!.number, PANS[0]);
});

test('data key rotation re-encrypts every card under one new data key and drops the old keys', async (t) => {
  const h = await testDb();
  t.teardown(() => h.close());
  const vault = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  const tokens = [];
  for (const pan of PANS) tokens.push(await vault.save({ merchantId: 'mer_A', number: pan, brand: 'visa', expMonth: 12, expYear: 2030 }));
  const oldKey = (await h.db('card_data_keys').first()).id;
  const before = await h.db('card_vault').select('token', 'pan_enc').orderBy('token');
  const r = await vault.rotateDataKey();
  t.is(r.cardsReencrypted, PANS.length);
  t.is(r.retiredDataKeys, 1);
  t.not(r.newDataKey, oldKey);
  const keys = await h.db('card_data_keys').select('id');
  t.deepEqual(keys.map((k: { id: string }) => k.id), [r.newDataKey]);
  const after = await h.db('card_vault').select('token', 'pan_enc', 'dek_id').orderBy('token');
  for (const [i, row] of after.entries()) {
    t.is(row.dek_id, r.newDataKey);
    t.not(row.pan_enc, before[i].pan_enc);
  }
  const fresh = new CardVault(h.db, new TestKeyring(1, { 1: K1 }), clock);
  for (const [i, tok] of tokens.entries()) t.is((await fresh.load('mer_A', tok))!.number, PANS[i]);
});
