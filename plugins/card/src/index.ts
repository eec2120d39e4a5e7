import { TOKENS, definePlugin } from '@payhub/core';
import type { BankAdapter, PaymentMethod, RegisterContext } from '@payhub/core';
import { CardMethod } from './method';
import { CardVault } from './vault';
import { migrations } from './migrations';
import { keysCommand } from './commands';

export { CardMethod, toMethodOutcome, toRefundOutcome, scrub } from './method';
export type { CardDeps } from './method';
export { CardVault, encryptPan, decryptPan, panAad, dekAad } from './vault';
export { CardPayload } from './payload';
export { settingsSchema, readSettings } from './settings';
export * from './validation';
export { migrations } from './migrations';
export { keysCommand, runKeys } from './commands';

type Container = RegisterContext<unknown>['container'];

/** Wires the card method to the hub's services; every service is resolved when first needed. */
export function cardMethodFrom(c: Container): CardMethod {
  let vault: CardVault | undefined;
  const clock = () => (c.isRegistered(TOKENS.Clock, true) ? c.resolve(TOKENS.Clock) : { now: () => new Date() });
  return new CardMethod({
    clock,
    vault: () => (vault ??= new CardVault(c.resolve(TOKENS.Db), c.resolve(TOKENS.Keyring), clock())),
    adapters: () => (c.isRegistered(TOKENS.BankAdapter, true) ? c.resolveAll<BankAdapter>(TOKENS.BankAdapter) : []),
    baseUrl: () => (c.isRegistered(TOKENS.Runtime, true) ? c.resolve(TOKENS.Runtime).baseUrl() : null),
  });
}

export default definePlugin({
  name: 'card',
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'payment-method',
  description: 'Bank card payments (one- and two-stage, 3-D Secure) through the merchant\'s bank adapter, with a PCI card vault',
  migrations,
  register(ctx) {
    ctx.provide<PaymentMethod>(TOKENS.PaymentMethod, { useFactory: (c) => cardMethodFrom(c) as PaymentMethod });
  },
  commands: [keysCommand],
});
