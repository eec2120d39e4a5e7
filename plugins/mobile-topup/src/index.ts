import { z } from 'zod';
import { definePlugin, fromMajorString, PayhubError, TOKENS, ValidationError } from '@payhub/core';
import type { RegisterContext } from '@payhub/core';
import type { Context } from 'koa';
import { migrations } from './migrations';
import { openapi } from './openapi';
import { OPERATOR } from './operator';
import type { TopupOperator } from './operator';
import { OperatorEmulator, SandboxOperator } from './sandbox';
import { Topups } from './service';
import { MerchantTopupsPanel, StuckTopupsPanel, type PanelDeps } from './panels';

export { OPERATOR, findOperator } from './operator';
export type { TopupOperator, CreditOutcome, CreditRequest } from './operator';
export { OperatorEmulator, SandboxOperator } from './sandbox';
export { toE164 } from './phone';
export { MerchantTopupsPanel, StuckTopupsPanel, maskPhone } from './panels';

const options = z.strictObject({
  /** Merchant that sells top-ups on the public page /topup (the page is off without it). */
  merchantId: z.string().min(1).max(40).optional(),
  defaultCountry: z.string().regex(/^[A-Z]{2}$/).default('RU'),
  currency: z.string().regex(/^[A-Z]{3}$/).default('RUB'),
  minAmount: z.number().int().min(1).default(10_00),
  maxAmount: z.number().int().min(1).default(15_000_00),
  retryDelays: z.array(z.number().int().min(0)).min(1).default([5, 30, 120, 600, 3600]),
  leaseSeconds: z.number().int().min(1).default(60),
  batch: z.number().int().min(1).max(1000).default(50),
  signatureWindow: z.number().int().min(10).max(3600).default(300),
  /** Refund the buyer's order when the operator declines the credit. */
  refundDeclined: z.boolean().default(true),
  /** Run the worker loop inside the hub (when the hub runs its workers). */
  worker: z.boolean().default(true),
  intervalMs: z.number().int().min(100).default(2000),
  sandbox: z.strictObject({
    /** Register the sandbox operator. */
    enabled: z.boolean().default(true),
    /** Start its emulator on loopback in onReady (otherwise set url). */
    emulator: z.boolean().default(true),
    url: z.url().optional(),
    port: z.number().int().min(0).max(65535).default(0),
    prefixes: z.array(z.string().regex(/^\+\d{1,14}$/)).default(['+79']),
    timeoutMs: z.number().int().min(50).default(5000),
  }).prefault({}),
});
type Options = z.infer<typeof options>;

/** Per hub (keyed by the plugin's container): several hubs may run in one process (tests). */
interface HubState { emulator: OperatorEmulator | null; url: string | null; topups: Topups | null; timer: NodeJS.Timeout | null; running: Promise<unknown> | null }
const states = new WeakMap<object, HubState>();
const stateOf = (c: object): HubState => {
  let s = states.get(c);
  if (!s) states.set(c, (s = { emulator: null, url: null, topups: null, timer: null, running: null }));
  return s;
};

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(body: string, status = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mobile top-up</title><style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}
label{display:block;margin:.8rem 0}input{font-size:1.1rem;width:100%}.err{color:#a00}</style></head>
<body><main><h1>Mobile top-up</h1>${status}${body}</main></body></html>`;
}

function form(v: { phone?: string; amount?: string }, currency: string): string {
  return `<form method="post" action="/topup">
<label>Phone number <input name="phone" type="tel" autocomplete="tel" required value="${esc(v.phone)}" placeholder="+7 916 123-45-67"></label>
<label>Amount, ${esc(currency)} <input name="amount" inputmode="decimal" required value="${esc(v.amount)}" placeholder="100.00"></label>
<button type="submit">Pay</button></form>`;
}

export default definePlugin<Options>({
  name: 'mobile-topup',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'other',
  description: 'Mobile account top-up: operators as adapters, paid by any method or in cash at a signed terminal',
  options,
  migrations,
  openapi,
  register(ctx) {
    const st = stateOf(ctx.container);
    const o = ctx.options.sandbox;
    if (o.enabled) {
      ctx.provide<TopupOperator>(OPERATOR, { useFactory: () => new SandboxOperator(o.prefixes, () => o.url ?? st.url, o.timeoutMs) });
    }
    // Dashboard panels (shown when a dashboard plugin is loaded; nothing happens otherwise).
    const deps = (c: RegisterContext<Options>['container']): PanelDeps => ({
      db: () => c.resolve(TOKENS.Db), operators: () => (c.isRegistered(OPERATOR, true) ? c.resolveAll<TopupOperator>(OPERATOR) : []),
    });
    ctx.provide(TOKENS.DashboardPanel, { useFactory: (c) => new MerchantTopupsPanel(deps(c)) });
    ctx.provide(TOKENS.DashboardPanel, { useFactory: (c) => new StuckTopupsPanel(deps(c)) });
  },
  routes(router, ctx) {
    const c0 = ctx.container;
    const st = stateOf(c0);
    const svc = new Topups({
      db: () => c0.resolve(TOKENS.Db), payments: () => c0.resolve(TOKENS.Payments), keyring: () => c0.resolve(TOKENS.Keyring),
      clock: () => c0.resolve(TOKENS.Clock), runtime: () => c0.resolve(TOKENS.Runtime),
      operators: () => (c0.isRegistered(OPERATOR, true) ? c0.resolveAll<TopupOperator>(OPERATOR) : []),
      logger: ctx.logger, options: ctx.options,
    });
    st.topups = svc;
    const mid = (c: Context): string => c.state.merchant.id;
    const body = (c: Context): Record<string, unknown> => {
      const b = (c.request as { body?: unknown }).body;
      return b && typeof b === 'object' && !Array.isArray(b) ? b as Record<string, unknown> : {};
    };

    router.post('/v1/topups', ctx.requireMerchant, ctx.idempotent, async (c) => {
      const row = await svc.createPaid(mid(c), body(c));
      c.status = 201;
      c.body = svc.json(row);
    });
    router.get('/v1/topups/:id', ctx.requireMerchant, async (c) => {
      c.body = svc.json(await svc.getOwn(mid(c), c.params.id!));
    });
    router.post('/v1/topup-terminals', ctx.requireMerchant, async (c) => {
      const t = await svc.createTerminal(mid(c), body(c).name);
      c.status = 201;
      // The secret is shown once: load it into the terminal.
      c.body = { object: 'topup_terminal', id: t.id, secret: t.secret };
    });
    router.post('/v1/topup-terminals/cash-in', async (c) => {
      const raw = (c.request as { rawBody?: unknown }).rawBody;
      const { row, duplicate } = await svc.cashIn({
        terminal: c.get('X-Terminal-Id') || undefined, timestamp: c.get('X-Timestamp') || undefined, signature: c.get('X-Signature') || undefined,
      }, typeof raw === 'string' ? raw : undefined, body(c));
      c.status = duplicate ? 200 : 201;
      c.body = { ...svc.json(row), duplicate };
    });
    // Moves top-ups now (what the worker loop does on its schedule). Operator only.
    router.post('/v1/topups/run', ctx.requireAdmin, async (c) => {
      c.body = { object: 'topup_run', ...(await svc.runOnce()) };
    });

    router.get('/topup', async (c) => {
      c.type = 'text/html';
      if (!ctx.options.merchantId) {
        c.status = 404;
        c.body = page('<p>Top-ups are not sold here.</p>');
        return;
      }
      c.body = page(form({}, ctx.options.currency));
    });
    router.post('/topup', async (c) => {
      c.type = 'text/html';
      if (!ctx.options.merchantId) {
        c.status = 404;
        c.body = page('<p>Top-ups are not sold here.</p>');
        return;
      }
      const b = body(c);
      const phone = typeof b.phone === 'string' ? b.phone : '';
      const amountText = typeof b.amount === 'string' ? b.amount.trim().replace(',', '.') : '';
      try {
        let amount: number;
        try {
          amount = fromMajorString(amountText, ctx.options.currency);
        } catch {
          throw new ValidationError([{ field: 'amount', message: 'is not an amount' }]);
        }
        const row = await svc.createPaid(ctx.options.merchantId, { msisdn: phone, amount, currency: ctx.options.currency });
        c.status = 303;
        c.redirect(svc.json(row).pay_url!);
      } catch (e) {
        if (!(e instanceof PayhubError) || e.status !== 422) throw e;
        c.status = 422;
        const msgs = e.fields.map((f) => `<li>${esc(f.field === 'msisdn' ? 'Phone number' : f.field === 'amount' ? 'Amount' : f.field)}: ${esc(f.message)}</li>`).join('');
        c.body = page(form({ phone, amount: amountText }, ctx.options.currency), `<ul class="err" role="alert">${msgs}</ul>`);
      }
    });
  },
  async onReady(ctx) {
    const st = stateOf(ctx.container);
    const role = (ctx as { role?: string }).role ?? 'server';
    if (role === 'cli') return;
    const o = ctx.options.sandbox;
    if (o.enabled && o.emulator && !o.url) {
      st.emulator = new OperatorEmulator();
      st.url = await st.emulator.start(o.port);
      ctx.logger.info({ url: st.url }, 'mobile-topup: sandbox operator emulator listening');
    }
    const svc = st.topups;
    if (!ctx.options.worker || !ctx.config.workers.enabled || !svc) return;
    st.timer = setInterval(() => {
      if (st.running) return;
      st.running = svc.runOnce().catch((e: Error) => ctx.logger.warn({ err: e.message }, 'mobile-topup: pass failed')).finally(() => { st.running = null; });
    }, ctx.options.intervalMs);
    st.timer.unref();
  },
  async onClose(ctx) {
    const st = stateOf(ctx.container);
    if (st.timer) clearInterval(st.timer);
    st.timer = null;
    await st.running;
    await st.emulator?.stop();
    st.emulator = null;
  },
});
