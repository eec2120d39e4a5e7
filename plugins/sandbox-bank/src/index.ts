/**
 * @payhub/plugin-sandbox-bank: an acquiring-bank emulator (its own HTTP server) and the BankAdapter that talks to it.
 * See README.md for the test cards, the API and the options.
 */
import { z } from 'zod';
import {
  definePlugin, TOKENS, type BankAdapter, type BankConformanceProfile, type LifecycleContext,
} from '@payhub/core';
import { SandboxBankAdapter } from './adapter';
import { SandboxBankServer, DEV_TERMINAL_SECRET } from './server';
import { TEST_CARDS } from './cards';

export { SandboxBankAdapter, type SandboxBankAdapterOptions } from './adapter';
export { SandboxBankServer, SANDBOX_HEADERS, DEV_TERMINAL_SECRET, type SandboxBankServerOptions } from './server';
export { SandboxBank, CHALLENGE_CODE, CHALLENGE_TTL_MS } from './bank';
export { TEST_CARDS, BIN_TABLE, lookupBin } from './cards';
export type * from './wire';

export const sandboxBankOptions = z.object({
  /** Port of the emulator started by onReady (0 = any free port). */
  port: z.number().int().min(0).max(65535).default(0),
  host: z.string().min(1).default('127.0.0.1'),
  /** Use an emulator that already runs elsewhere instead of starting one. */
  url: z.url({ protocol: /^https?$/ }).optional(),
  /** Hard limit of each call to the bank, in ms. */
  timeoutMs: z.number().int().min(50).max(120_000).default(5000),
  /** Default terminal credentials (a merchant's contract credentials override them). */
  merchantId: z.string().min(1).default('sandbox-merchant'),
  terminalId: z.string().min(1).default('sandbox-terminal'),
  terminalSecret: z.string().min(16).default(DEV_TERMINAL_SECRET),
  /** 'inproc': the adapter calls the emulator's logic directly, without HTTP (benchmarks). */
  transport: z.enum(['http', 'inproc']).default('http'),
  /** How long the emulator holds the lost-answer card's response, in ms. */
  holdMs: z.number().int().min(0).default(60_000),
  /** Artificial processing time inside the emulator's per-account lock, in ms. */
  latencyMs: z.number().int().min(0).max(10_000).default(0),
}).refine((o) => !(o.transport === 'inproc' && o.url), {
  message: "transport 'inproc' needs the emulator in this process: remove `url`",
  path: ['transport'],
});

export type SandboxBankOptions = z.output<typeof sandboxBankOptions>;

/** Per-hub state shared between register(), onReady() and onClose() through the plugin's container. */
interface SandboxState {
  server: SandboxBankServer | null;
  url: string | null;
}
const STATE = Symbol.for('payhub.sandbox-bank.state');

function state(ctx: LifecycleContext<SandboxBankOptions>): SandboxState {
  return ctx.container.resolve<SandboxState>(STATE);
}

function serverFor(o: SandboxBankOptions, port = o.port, host = o.host): SandboxBankServer {
  return new SandboxBankServer({
    port, host, terminalSecret: o.terminalSecret, terminals: { [o.terminalId]: o.terminalSecret },
    holdMs: o.holdMs, latencyMs: o.latencyMs,
  });
}

export default definePlugin<SandboxBankOptions>({
  name: 'sandbox-bank',
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'bank-adapter',
  description: 'Acquiring-bank emulator (test cards, 3-D Secure, lost answers, personal accounts) and its BankAdapter',
  options: sandboxBankOptions,

  register(ctx) {
    const o = ctx.options;
    const st: SandboxState = { server: null, url: o.url ?? null };
    ctx.container.register(STATE, { useValue: st });
    if (o.terminalSecret === DEV_TERMINAL_SECRET) {
      ctx.logger.warn('sandbox-bank uses the development terminal secret; set options.terminalSecret outside a laptop');
    }
    ctx.provide<BankAdapter>(TOKENS.BankAdapter, {
      useFactory: () => new SandboxBankAdapter({
        url: () => st.url,
        timeoutMs: o.timeoutMs,
        merchantId: o.merchantId,
        terminalId: o.terminalId,
        terminalSecret: o.terminalSecret,
        transport: o.transport,
        bank: () => st.server?.bank ?? null,
      }),
    });
  },

  async onReady(ctx) {
    const st = state(ctx);
    if (ctx.options.url) return;
    const server = serverFor(ctx.options);
    st.url = await server.start();
    st.server = server;
    ctx.logger.info({ url: st.url }, 'sandbox bank emulator listening');
  },

  async onClose(ctx) {
    const st = state(ctx);
    const server = st.server;
    st.server = null;
    if (server) await server.close();
  },

  commands: [{
    name: 'sandbox-bank',
    description: 'Run the sandbox bank emulator on its own (--port N, --host H); prints its URL',
    needsDb: false,
    async run(args, ctx) {
      const o = ctx.options;
      const flag = (name: string): string | undefined => {
        const i = args.indexOf(`--${name}`);
        if (i >= 0) return args[i + 1];
        const eq = args.find((a) => a.startsWith(`--${name}=`));
        return eq?.slice(name.length + 3);
      };
      const port = flag('port') !== undefined ? Number(flag('port')) : o.port;
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        process.stderr.write('sandbox-bank: --port must be an integer 0-65535\n');
        return 2;
      }
      const server = serverFor(o, port, flag('host') ?? o.host);
      const url = await server.start();
      process.stdout.write(`${url}\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      return 0;
    },
  }],
});

/**
 * Acts as the buyer on the sandbox 3-D Secure page: loads it, posts the code, expects the redirect to `returnUrl`.
 */
export async function completeSandboxChallenge(url: string, opts: { approve: boolean; returnUrl?: string }): Promise<void> {
  const page = await fetch(url, { signal: AbortSignal.timeout(5000) });
  const html = await page.text();
  if (page.status !== 200 || !/name="code"/.test(html)) throw new Error(`challenge page answered ${page.status} without a code field`);
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? new URL(url).pathname;
  const res = await fetch(new URL(action, url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ code: opts.approve ? '123456' : '000000' }).toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(5000),
  });
  await res.arrayBuffer();
  if (opts.returnUrl !== undefined) {
    const location = res.headers.get('location');
    if (res.status !== 302 || location !== opts.returnUrl) {
      throw new Error(`challenge did not send the buyer back to the return URL (status ${res.status}, location ${location ?? 'none'})`);
    }
  }
}

/** Conformance profile: `npm run conformance -- plugins/sandbox-bank`. */
export const conformance: BankConformanceProfile = {
  adapterId: 'sandbox-bank',
  currency: 'RUB',
  amount: 10_000,
  pluginOptions: { timeoutMs: 1500, holdMs: 10_000 },
  cards: {
    expMonth: 12,
    expYear: new Date().getUTCFullYear() + 3,
    cvc: '123',
    approve: TEST_CARDS.visa,
    decline: TEST_CARDS.doNotHonor,
    declineReason: 'do_not_honor',
    challenge: TEST_CARDS.challenge,
    timeout: TEST_CARDS.lostAnswer,
  },
  refundAboveCapturedReason: 'amount_exceeds_captured',
  completeChallenge: (url, opts) => completeSandboxChallenge(url, opts),
  async bankOperations(adapter) {
    const a = adapter as Partial<SandboxBankAdapter>;
    if (typeof a.ledger !== 'function') throw new Error('adapter does not expose the sandbox ledger');
    return a.ledger();
  },
};
