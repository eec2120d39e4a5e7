import crypto from 'node:crypto';
import test from 'ava';
import { runKeys } from '../src/commands';
import { CardVault } from '../src/vault';
import { TestKeyring } from './helpers/db';
import { card, newOrder, pay, startHubWith } from './helpers/hub';
import type { Hub } from './helpers/hub';

function commandContext(hub: Hub) {
  const lp = hub.hub.plugins.find((p) => p.plugin.name === 'card')!;
  return { container: lp.container, options: lp.options, logger: lp.logger, config: hub.config, db: hub.db };
}

async function run(hub: Hub, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runKeys(args, commandContext(hub), (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('payhub keys rotate: after a master key change every data key is re-wrapped, and saved cards still pay', async (t) => {
  const k1 = crypto.randomBytes(32).toString('base64');
  const k2 = crypto.randomBytes(32).toString('base64');
  // Hub 1, master key version 1: a card is saved.
  const h1 = await startHubWith({ keys: { masterKey: k1, version: 1 } });
  const m = await h1.hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o1 = await newOrder(h1.hub, m.key);
  const r1 = await pay(h1.hub, m.key, o1.id, { card: card('5555555555554444', '947'), save_card: true });
  t.is(r1.body.status, 'captured', r1.text);
  const token: string = r1.body.details.card_token;
  t.truthy(token);
  const dbUrl = h1.hub.databaseUrl;
  await h1.hub.close({ keepDatabase: true });

  // Hub 2: master key version 2, version 1 kept as a previous key. The command re-wraps.
  const h2 = await startHubWith({ keys: { masterKey: k2, version: 2, previous: { 1: k1 } } }, dbUrl);
  let closed2 = false;
  t.teardown(async () => {
    if (!closed2) await h2.hub.close({ keepDatabase: true });
  });
  t.is((await run(h2.hub, ['rotate', '--bogus'])).code, 2);
  const first = await run(h2.hub, ['rotate']);
  t.is(first.code, 0, first.err);
  t.is(first.out, 'master_key_version=2 data_keys=1 rewrapped=1 already_current=0');
  const keys = await h2.hub.db('card_data_keys').select('*');
  t.true(keys.every((k: { master_key_version: number; wrapped_key: string }) => Number(k.master_key_version) === 2 && k.wrapped_key.startsWith('v2.')));
  const again = await run(h2.hub, ['rotate']);
  t.is(again.out, 'master_key_version=2 data_keys=1 rewrapped=0 already_current=1');
  const withDek = await run(h2.hub, ['rotate', '--data-key']);
  t.is(withDek.code, 0, withDek.err);
  t.regex(withDek.out, /cards_reencrypted=1 data_keys_retired=1$/);
  await h2.hub.close({ keepDatabase: true });
  closed2 = true;

  // Hub 3: the card data keys no longer need master key 1 (a keyring holding key 2 alone opens them).
  // Key 1 stays configured only because the hub derives its fingerprints (API keys, card fingerprints) from the
  // oldest key it holds.
  const h3 = await startHubWith({ keys: { masterKey: k2, version: 2, previous: { 1: k1 } } }, dbUrl);
  t.teardown(() => h3.hub.close());
  const only2 = new CardVault(h3.hub.db, new TestKeyring(2, { 2: Buffer.from(k2, 'base64') }), { now: () => new Date() });
  t.is((await only2.load(m.id, token))!.number, '5555555555554444');
  const o3 = await newOrder(h3.hub, m.key);
  const r3 = await pay(h3.hub, m.key, o3.id, { card_token: token });
  t.is(r3.status, 201, r3.text);
  t.is(r3.body.status, 'captured');
  t.is(r3.body.details.masked, '555555******4444');
});

test('payhub keys rotate is all or nothing: a data key it cannot open fails the run and no row changes', async (t) => {
  const k1 = crypto.randomBytes(32).toString('base64');
  const k2 = crypto.randomBytes(32).toString('base64');
  const h1 = await startHubWith({ keys: { masterKey: k1, version: 1 } });
  const m = await h1.hub.createMerchant({ bankAdapter: 'spy-bank' });
  const o1 = await newOrder(h1.hub, m.key);
  const r1 = await pay(h1.hub, m.key, o1.id, { card: card('4111111111111111', '947'), save_card: true });
  t.truthy(r1.body.details.card_token, r1.text);
  // A data key wrapped under a master key version this hub does not hold.
  await h1.hub.db('card_data_keys').insert({
    id: 'cdk_zzzzzzzzzzzzzzzzzzzzzz', master_key_version: 7, wrapped_key: 'v7.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.AAAA', active: false,
    created_at: new Date().toISOString(), rotated_at: null,
  });
  const dbUrl = h1.hub.databaseUrl;
  const before = await h1.hub.db('card_data_keys').select('*').orderBy('id');
  await h1.hub.close({ keepDatabase: true });
  const h2 = await startHubWith({ keys: { masterKey: k2, version: 2, previous: { 1: k1 } } }, dbUrl);
  t.teardown(() => h2.hub.close());
  const r = await run(h2.hub, ['rotate']);
  t.is(r.code, 1);
  t.regex(r.err, /keys rotate failed/);
  t.deepEqual(await h2.hub.db('card_data_keys').select('*').orderBy('id'), before);
});
