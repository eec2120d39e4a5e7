import type Router from '@koa/router';
import { z } from 'zod';
import { definePlugin, emulatorKit, TOKENS, type LifecycleContext, type PluginCommand, type Runtime } from '@payhub/core';
import { QiwiCallback } from './callback';
import { DEFAULT_EMULATED_SITE, QiwiEmulator, type EmulatedSite } from './emulator';
import { QiwiMethod } from './method';

export const DEFAULT_API_BASE = 'https://api.qiwi.com';

export const optionsSchema = z.object({
  /** Bills API base (…/partner/bill/v1/bills is appended). Unset: QIWI's, or the in-process emulator's. */
  apiBase: z.string().url().optional(),
  /** Bill lifetime in minutes (the order's expiry and QIWI's 45 days cap it). At its end the resolver asks QIWI. */
  billLifetimeMinutes: z.number().int().min(1).max(45 * 24 * 60).default(60),
  /** Timeout of one API call. */
  timeoutMs: z.number().int().min(100).max(120_000).default(15_000),
  /** Start the QIWI emulator with the hub (development and tests only). */
  emulator: emulatorKit.emulatorOption({
    sites: z.array(z.object({ siteId: z.string().min(1), secretKey: z.string().min(16) })).min(1).optional(),
  }),
});
export type QiwiOptions = z.infer<typeof optionsSchema>;

interface State { demo?: Record<string, unknown>; emulator: QiwiEmulator | null }
const STATE = Symbol('qiwi.state');
const state = (c: { resolve<T>(t: symbol): T }): State => c.resolve<State>(STATE);



/** `payhub emulate qiwi [--port N] [--host H] [--site-id S --secret-key K] [--notify-url URL]` */
const emulate: PluginCommand<QiwiOptions> = {
  name: 'emulate',
  description: 'emulate qiwi: run the QIWI bills emulator until interrupted',
  needsDb: false,
  async run(args: string[], ctx: LifecycleContext<QiwiOptions>) {
    if (args[0] !== 'qiwi') return 2;
    const rest = args.slice(1);
    const hub = ctx.config.publicUrl ?? `http://localhost:${ctx.config.port}`;
    const site: EmulatedSite = {
      siteId: emulatorKit.argFlag(rest, 'site-id') ?? DEFAULT_EMULATED_SITE.siteId,
      secretKey: emulatorKit.argFlag(rest, 'secret-key') ?? DEFAULT_EMULATED_SITE.secretKey,
      notifyUrl: emulatorKit.argFlag(rest, 'notify-url') ?? `${hub.replace(/\/$/, '')}/callbacks/qiwi`,
    };
    const emu = new QiwiEmulator({ sites: [site] });
    const url = await emu.listen(Number(emulatorKit.argFlag(rest, 'port') ?? 0), emulatorKit.argFlag(rest, 'host') ?? '127.0.0.1');
    ctx.logger.info({ url, siteId: site.siteId }, 'qiwi emulator listening');
    process.stdout.write(`QIWI emulator: ${url} (siteId ${site.siteId}, notifications to ${String(site.notifyUrl)}); set the plugin option apiBase to it\n`);
    await emulatorKit.untilSignal();
    await emu.close();
    return 0;
  },
};

export default definePlugin<QiwiOptions>({
  name: 'qiwi',
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'wallet-bridge',
  description: 'QIWI P2P / Checkout bills: PUT bill, payUrl redirect, signed notifications, status polling, reject, refunds',
  options: optionsSchema as unknown as z.ZodType<QiwiOptions>,
  register(ctx) {
    const st: State = { emulator: null };
    ctx.container.register(STATE, { useValue: st });
    const opts = ctx.options;
    ctx.provide(TOKENS.PaymentMethod, {
      useFactory: (c) => emulatorKit.withDemoSettings(new QiwiMethod(c.resolve(TOKENS.Runtime), c.resolve(TOKENS.Clock), {
        apiBase: () => opts.apiBase ?? (st.emulator ? st.emulator.apiBase : DEFAULT_API_BASE),
        billLifetimeMinutes: opts.billLifetimeMinutes,
        timeoutMs: opts.timeoutMs,
      }), () => st.demo ?? null),
    });
  },
  routes(router: Router, rctx) {
    router.post('/callbacks/qiwi', async (ctx) => {
      const req = ctx.request as unknown as { rawBody?: unknown; body?: unknown };
      let body: unknown = req.body;
      if (typeof req.rawBody === 'string') {
        try {
          body = JSON.parse(req.rawBody);
        } catch {
          body = null;
        }
      }
      const cb = new QiwiCallback(rctx.container.resolve(TOKENS.Payments), rctx.logger);
      const reply = await cb.handle(body, ctx.get('X-Api-Signature-SHA256') || undefined);
      ctx.status = reply.status;
      ctx.body = reply.body;
    });
  },
  async onReady(ctx) {
    const o = ctx.options.emulator;
    if (!o) return;
    const cfg = o === true ? { port: 0, host: '127.0.0.1', sites: undefined } : o;
    const runtime = ctx.container.resolve<Runtime>(TOKENS.Runtime);
    const notifyUrl = () => `${runtime.baseUrl()}/callbacks/qiwi`;
    const sites = cfg.sites ?? [DEFAULT_EMULATED_SITE];
    const emu = new QiwiEmulator({ sites: sites.map((s) => ({ ...s, notifyUrl })) });
    await emu.listen(cfg.port, cfg.host);
    state(ctx.container).emulator = emu;
    state(ctx.container).demo = { siteId: sites[0]!.siteId, secretKey: sites[0]!.secretKey };
    ctx.logger.info({ apiBase: emu.apiBase }, 'qiwi emulator started');
  },
  async onClose(ctx) {
    const st = state(ctx.container);
    await st.emulator?.close();
    st.emulator = null;
  },
  commands: [emulate],
});

export { QiwiMethod, settingsSchema } from './method';
export { QiwiEmulator, DEFAULT_EMULATED_SITE } from './emulator';
export type { EmulatedSite } from './emulator';
export * as signature from './signature';
export type Switches = emulatorKit.Switches;
