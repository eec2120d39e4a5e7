import type Router from '@koa/router';
import { z } from 'zod';
import { definePlugin, emulatorKit, formOf, TOKENS, type LifecycleContext, type PluginCommand, type Runtime } from '@payhub/core';
import { YooMoneyCallback } from './callback';
import { DEFAULT_EMULATED_WALLET, YooMoneyEmulator, type EmulatedWallet } from './emulator';
import { YooMoneyMethod } from './method';

export const DEFAULT_QUICKPAY_URL = 'https://yoomoney.ru/quickpay/confirm';

export const optionsSchema = z.object({
  /** Quickpay form endpoint. Unset: YooMoney's own, or the in-process emulator's when `emulator` is on. */
  quickpayUrl: z.string().url().optional(),
  /** `quickpay-form` value ('button' in current docs; 'shop' for old wallets). */
  quickpayForm: z.enum(['button', 'shop', 'donate', 'small']).default('button'),
  /** Minutes the buyer has to pay on YooMoney's page (Quickpay has no fail URL: an unpaid form ends this way). */
  actionTimeoutMinutes: z.number().int().min(1).max(7 * 24 * 60).default(60),
  /** Hours a payment may wait for its notification after the buyer's return before it is canceled. */
  notificationTimeoutHours: z.number().int().min(1).max(24 * 90).default(72),
  /** Start the YooMoney emulator with the hub (development and tests only). */
  emulator: emulatorKit.emulatorOption({
    wallets: z.array(z.object({ receiver: z.string().regex(/^[0-9]{11,20}$/), notificationSecret: z.string().min(1) })).min(1).optional(),
    feeBasisPoints: z.object({ PC: z.number().int().min(0).max(5000).optional(), AC: z.number().int().min(0).max(5000).optional() }).optional(),
  }),
});
export type YooMoneyOptions = z.infer<typeof optionsSchema>;

interface State { demo?: Record<string, unknown>; emulator: YooMoneyEmulator | null }
const STATE = Symbol('yoomoney.state');
const state = (c: { resolve<T>(t: symbol): T }): State => c.resolve<State>(STATE);



/** `payhub emulate yoomoney [--port N] [--host H] [--receiver 4100… --secret S] [--notify-url URL]` */
const emulate: PluginCommand<YooMoneyOptions> = {
  name: 'emulate',
  description: 'emulate yoomoney: run the YooMoney Quickpay emulator until interrupted',
  needsDb: false,
  async run(args: string[], ctx: LifecycleContext<YooMoneyOptions>) {
    if (args[0] !== 'yoomoney') return 2;
    const rest = args.slice(1);
    const hub = ctx.config.publicUrl ?? `http://localhost:${ctx.config.port}`;
    const wallet: EmulatedWallet = {
      receiver: emulatorKit.argFlag(rest, 'receiver') ?? DEFAULT_EMULATED_WALLET.receiver,
      notificationSecret: emulatorKit.argFlag(rest, 'secret') ?? DEFAULT_EMULATED_WALLET.notificationSecret,
      notifyUrl: emulatorKit.argFlag(rest, 'notify-url') ?? `${hub.replace(/\/$/, '')}/callbacks/yoomoney`,
    };
    const emu = new YooMoneyEmulator({ wallets: [wallet] });
    const url = await emu.listen(Number(emulatorKit.argFlag(rest, 'port') ?? 0), emulatorKit.argFlag(rest, 'host') ?? '127.0.0.1');
    ctx.logger.info({ url, receiver: wallet.receiver }, 'yoomoney emulator listening');
    process.stdout.write(`YooMoney emulator: ${emu.quickpayUrl} (receiver ${wallet.receiver}, notifications to ${String(wallet.notifyUrl)}); set the plugin option quickpayUrl to it\n`);
    await emulatorKit.untilSignal();
    await emu.close();
    return 0;
  },
};

export default definePlugin<YooMoneyOptions>({
  name: 'yoomoney',
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'wallet-bridge',
  description: 'YooMoney wallet: Quickpay form and sha1-signed HTTP notifications',
  options: optionsSchema as unknown as z.ZodType<YooMoneyOptions>,
  register(ctx) {
    const st: State = { emulator: null };
    ctx.container.register(STATE, { useValue: st });
    const opts = ctx.options;
    ctx.provide(TOKENS.PaymentMethod, {
      useFactory: (c) => emulatorKit.withDemoSettings(new YooMoneyMethod(c.resolve(TOKENS.Runtime), c.resolve(TOKENS.Clock), {
        quickpayUrl: () => opts.quickpayUrl ?? (st.emulator ? st.emulator.quickpayUrl : DEFAULT_QUICKPAY_URL),
        quickpayForm: opts.quickpayForm,
        actionTimeoutMinutes: opts.actionTimeoutMinutes,
        notificationTimeoutHours: opts.notificationTimeoutHours,
      }), () => st.demo ?? null),
    });
  },
  routes(router: Router, rctx) {
    router.post('/callbacks/yoomoney', async (ctx) => {
      const cb = new YooMoneyCallback(rctx.container.resolve(TOKENS.Payments), rctx.logger);
      const reply = await cb.handle(formOf(ctx.request));
      ctx.status = reply.status;
      ctx.type = 'text/plain; charset=utf-8';
      ctx.body = reply.body;
    });
  },
  async onReady(ctx) {
    const o = ctx.options.emulator;
    if (!o) return;
    const cfg = o === true ? { port: 0, host: '127.0.0.1', wallets: undefined, feeBasisPoints: undefined } : o;
    const runtime = ctx.container.resolve<Runtime>(TOKENS.Runtime);
    const notifyUrl = () => `${runtime.baseUrl()}/callbacks/yoomoney`;
    const wallets = cfg.wallets ?? [DEFAULT_EMULATED_WALLET];
    const emu = new YooMoneyEmulator({
      wallets: wallets.map((w) => ({ ...w, notifyUrl })),
      feeBasisPoints: cfg.feeBasisPoints,
    });
    await emu.listen(cfg.port, cfg.host);
    state(ctx.container).emulator = emu;
    state(ctx.container).demo = { receiver: wallets[0]!.receiver, notificationSecret: wallets[0]!.notificationSecret };
    ctx.logger.info({ quickpayUrl: emu.quickpayUrl }, 'yoomoney emulator started');
  },
  async onClose(ctx) {
    const st = state(ctx.container);
    await st.emulator?.close();
    st.emulator = null;
  },
  commands: [emulate],
});

export { YooMoneyMethod, settingsSchema } from './method';
export { YooMoneyEmulator, DEFAULT_EMULATED_WALLET, amountDue } from './emulator';
export type { EmulatedWallet, YooSwitches } from './emulator';
export * as signature from './signature';
