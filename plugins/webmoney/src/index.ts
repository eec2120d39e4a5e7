import type Router from '@koa/router';
import { z } from 'zod';
import { definePlugin, emulatorKit, formOf, TOKENS, type LifecycleContext, type PluginCommand } from '@payhub/core';
import { WebMoneyCallback } from './callback';
import { DEFAULT_EMULATED_PURSE, WebMoneyEmulator, type EmulatedPurse } from './emulator';
import { WebMoneyMethod } from './method';
import { PaymentNumbers, migrations } from './store';

export const DEFAULT_FORM_URL = 'https://merchant.webmoney.ru/lmi/payment_utf.asp';

const purseSchema = z.object({
  purse: z.string().regex(/^[A-Z][0-9]{12}$/),
  secretKey: z.string().min(1),
  hashMethod: z.enum(['sha256', 'md5', 'sign']).optional(),
  formSignKey: z.string().optional(),
  formSignTrailingSemicolon: z.boolean().optional(),
  mode: z.enum(['test', 'live']).optional(),
  resultUrl: z.string().url().optional(),
  prerequest: z.boolean().optional(),
});

export const optionsSchema = z.object({
  /** Payment form endpoint. Unset: WebMoney's own, or the in-process emulator's when `emulator` is on. */
  formUrl: z.string().url().optional(),
  /** LMI_SUCCESS_METHOD / LMI_FAIL_METHOD: '0' GET, '1' POST, '2' link (URL used as is). */
  returnMethod: z.enum(['0', '1', '2']).default('2'),
  /** Minutes the buyer has to pay on WebMoney's page. */
  actionTimeoutMinutes: z.number().int().min(1).max(7 * 24 * 60).default(60),
  /** Hours a payment may wait for its notification after the buyer's success return before it is canceled. */
  notificationTimeoutHours: z.number().int().min(1).max(24 * 90).default(72),
  /** Start the WebMoney emulator with the hub (development and tests only). */
  emulator: emulatorKit.emulatorOption({ purses: z.array(purseSchema).min(1).optional() }),
});
export type WebMoneyOptions = z.infer<typeof optionsSchema>;

interface State { demo?: Record<string, unknown>; emulator: WebMoneyEmulator | null }
const STATE = Symbol('webmoney.state');

function state(c: { resolve<T>(t: symbol): T }): State {
  return c.resolve<State>(STATE);
}



/** `payhub emulate webmoney [--port N] [--host H] [--purse Z… --secret-key K --hash-method sha256|md5 --mode test|live]` */
const emulate: PluginCommand<WebMoneyOptions> = {
  name: 'emulate',
  description: 'emulate webmoney: run the WebMoney Merchant emulator until interrupted',
  needsDb: false,
  async run(args: string[], ctx: LifecycleContext<WebMoneyOptions>) {
    if (args[0] !== 'webmoney') return 2;
    const rest = args.slice(1);
    const purse: EmulatedPurse = {
      ...DEFAULT_EMULATED_PURSE,
      ...(emulatorKit.argFlag(rest, 'purse') ? { purse: emulatorKit.argFlag(rest, 'purse')! } : {}),
      ...(emulatorKit.argFlag(rest, 'secret-key') ? { secretKey: emulatorKit.argFlag(rest, 'secret-key')! } : {}),
      ...(emulatorKit.argFlag(rest, 'hash-method') ? { hashMethod: emulatorKit.argFlag(rest, 'hash-method') as EmulatedPurse['hashMethod'] } : {}),
      ...(emulatorKit.argFlag(rest, 'mode') ? { mode: emulatorKit.argFlag(rest, 'mode') as 'test' | 'live' } : {}),
    };
    const emu = new WebMoneyEmulator({ purses: [purse] });
    const url = await emu.listen(Number(emulatorKit.argFlag(rest, 'port') ?? 0), emulatorKit.argFlag(rest, 'host') ?? '127.0.0.1');
    ctx.logger.info({ url, formUrl: emu.formUrl, purse: purse.purse }, 'webmoney emulator listening');
    process.stdout.write(`WebMoney emulator: ${emu.formUrl} (purse ${purse.purse}); set the plugin option formUrl to it\n`);
    await emulatorKit.untilSignal();
    await emu.close();
    return 0;
  },
};

export default definePlugin<WebMoneyOptions>({
  name: 'webmoney',
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'wallet-bridge',
  description: 'WebMoney Merchant Interface: LMI payment form, pre-request and signed Result URL notifications',
  options: optionsSchema as unknown as z.ZodType<WebMoneyOptions>,
  migrations,
  register(ctx) {
    const st: State = { emulator: null };
    ctx.container.register(STATE, { useValue: st });
    const opts = ctx.options;
    ctx.provide(TOKENS.PaymentMethod, {
      useFactory: (c) => emulatorKit.withDemoSettings(new WebMoneyMethod(
        c.resolve(TOKENS.Runtime),
        c.resolve(TOKENS.Clock),
        new PaymentNumbers(c.resolve(TOKENS.Db)),
        {
          formUrl: () => opts.formUrl ?? (st.emulator ? st.emulator.formUrl : DEFAULT_FORM_URL),
          returnMethod: opts.returnMethod,
          actionTimeoutMinutes: opts.actionTimeoutMinutes,
          notificationTimeoutHours: opts.notificationTimeoutHours,
        },
      ), () => st.demo ?? null),
    });
  },
  routes(router: Router, rctx) {
    router.post('/callbacks/webmoney', async (ctx) => {
      const cb = new WebMoneyCallback(
        rctx.container.resolve(TOKENS.Payments),
        new PaymentNumbers(rctx.container.resolve(TOKENS.Db)),
        rctx.logger,
      );
      const reply = await cb.handle(formOf(ctx.request));
      ctx.status = reply.status;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = reply.body;
    });
  },
  async onReady(ctx) {
    const o = ctx.options.emulator;
    if (!o) return;
    const cfg = o === true ? { port: 0, host: '127.0.0.1', purses: undefined } : o;
    const purses = cfg.purses ?? [DEFAULT_EMULATED_PURSE];
    const emu = new WebMoneyEmulator({ purses });
    await emu.listen(cfg.port, cfg.host);
    state(ctx.container).emulator = emu;
    state(ctx.container).demo = { purse: purses[0]!.purse, secretKey: purses[0]!.secretKey, hashMethod: purses[0]!.hashMethod ?? 'sha256' };
    ctx.logger.info({ formUrl: emu.formUrl }, 'webmoney emulator started');
  },
  async onClose(ctx) {
    const st = state(ctx.container);
    await st.emulator?.close();
    st.emulator = null;
  },
  commands: [emulate],
});

export { WebMoneyMethod, settingsSchema } from './method';
export { WebMoneyEmulator, DEFAULT_EMULATED_PURSE } from './emulator';
export type { EmulatedPurse } from './emulator';
export * as signature from './signature';
export type Switches = emulatorKit.Switches;
