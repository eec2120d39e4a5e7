/**
 * Bank adapter plugin template. Copy this folder to plugins/<your-bank>, rename the package, the plugin `name`,
 * the adapter `id`, and fill in transformers.ts and adapter.ts from your bank's API documentation.
 * Guide: docs/writing-a-bank-adapter.md.
 */
import { z } from 'zod';
import { definePlugin, TOKENS, type BankAdapter, type BankConformanceProfile } from '@payhub/core';
import { ExampleBankAdapter } from './adapter';

export { ExampleBankAdapter } from './adapter';

const options = z.object({
  /** Base URL of the bank's API (its sandbox in development). */
  baseUrl: z.url({ protocol: /^https?$/ }),
  timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
  terminalId: z.string().optional(),
  secret: z.string().min(16).optional(),
});
export type ExampleBankPluginOptions = z.output<typeof options>;

export default definePlugin<ExampleBankPluginOptions>({
  name: 'bank-adapter-template',
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'bank-adapter',
  description: 'Template of a bank adapter plugin',
  options,
  register(ctx) {
    // register() only registers: no I/O. The factory runs once, after every plugin has registered.
    ctx.provide<BankAdapter>(TOKENS.BankAdapter, { useFactory: () => new ExampleBankAdapter(ctx.options) });
  },
});

/**
 * Conformance profile for `npm run conformance -- plugins/<your-bank>`: fill in your bank's sandbox test cards and
 * point `pluginOptions.baseUrl` at its sandbox.
 */
export const conformance: BankConformanceProfile = {
  adapterId: 'example-bank',
  currency: 'RUB',
  pluginOptions: { baseUrl: 'http://127.0.0.1:9/replace-with-the-bank-sandbox', timeoutMs: 2000 },
  cards: {
    expMonth: 12,
    expYear: new Date().getUTCFullYear() + 2,
    approve: '4111111111111111',
    decline: '4000000000000002',
  },
};
