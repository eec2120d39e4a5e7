import { z } from 'zod';
import { definePlugin, TOKENS } from '@payhub/core';
import type { Context } from 'koa';
import { migrations } from './migrations';
import { openapi } from './openapi';
import { cleanNumber } from './numbers';
import { Loyalty, POINTS } from './service';
import { LoyaltyPanel } from './panels';
import { LoyaltyCheckoutExtension } from './checkout';

export { Loyalty, account, POINTS, rulesSchema } from './service';
export { luhnValid, newCardNumber, mulDivFloor } from './numbers';
export { LoyaltyPanel, maskCardNumber } from './panels';
export { LoyaltyCheckoutExtension } from './checkout';

const options = z.strictObject({
  /** Card number range: prefix and total length (the last digit is the Luhn check digit). */
  prefix: z.string().regex(/^\d{1,8}$/).default('9643'),
  length: z.number().int().min(12).max(19).default(16),
  /** Run the settling loop inside the hub (when the hub runs its workers). */
  worker: z.boolean().default(true),
  intervalMs: z.number().int().min(100).default(5000),
  batch: z.number().int().min(1).max(1000).default(100),
  /** How long a paid order is watched for refunds. */
  watchDays: z.number().int().min(1).max(3650).default(180),
  /** Holder page: wrong codes before the card's page is locked, and for how long. */
  maxCodeFailures: z.number().int().min(1).max(100).default(5),
  lockMinutes: z.number().int().min(1).max(1440).default(15),
});
type Options = z.infer<typeof options>;

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{padding:.3rem;border-bottom:1px solid #ddd;text-align:left}.err{color:#a00}</style></head>
<body><main><h1>${esc(title)}</h1>${body}</main></body></html>`;
}

const masked = (num: string) => `•••• ${num.slice(-4)}`;

/** Per hub (keyed by the plugin's container): several hubs may run in one process (tests). */
const services = new WeakMap<object, Loyalty>();
const loops = new WeakMap<object, { timer: NodeJS.Timeout; running: Promise<unknown> | null }>();

export default definePlugin<Options>({
  name: 'loyalty',
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'other',
  description: 'Loyalty cards: bonus points earned on paid orders, spent on new ones, holder discounts',
  options,
  migrations,
  openapi,
  register(ctx) {
    // Dashboard panel (shown when a dashboard plugin is loaded; nothing happens otherwise).
    ctx.provide(TOKENS.DashboardPanel, { useFactory: (c) => new LoyaltyPanel({ db: () => c.resolve(TOKENS.Db), ledger: () => c.resolve(TOKENS.Ledger) }) });
    // Card field on the hosted payment page (shown when a page plugin is loaded): attaches a card to the order paid there.
    ctx.provide(TOKENS.CheckoutExtension, {
      useFactory: (c) => {
        let svc: Loyalty | null = null;
        return new LoyaltyCheckoutExtension(() => (svc ??= new Loyalty({
          db: () => c.resolve(TOKENS.Db), payments: () => c.resolve(TOKENS.Payments), ledger: () => c.resolve(TOKENS.Ledger),
          keyring: () => c.resolve(TOKENS.Keyring), clock: () => c.resolve(TOKENS.Clock), logger: ctx.logger, options: ctx.options,
        })), ctx.options.length);
      },
    });
  },
  routes(router, ctx) {
    const c0 = ctx.container;
    const svc = new Loyalty({
      db: () => c0.resolve(TOKENS.Db), payments: () => c0.resolve(TOKENS.Payments), ledger: () => c0.resolve(TOKENS.Ledger),
      keyring: () => c0.resolve(TOKENS.Keyring), clock: () => c0.resolve(TOKENS.Clock), logger: ctx.logger, options: ctx.options,
    });
    services.set(c0, svc);
    const mid = (c: Context): string => c.state.merchant.id;
    const body = (c: Context): Record<string, unknown> => {
      const b = (c.request as { body?: unknown }).body;
      return b && typeof b === 'object' && !Array.isArray(b) ? b as Record<string, unknown> : {};
    };

    router.get('/v1/loyalty/rules', ctx.requireMerchant, async (c) => {
      c.body = { object: 'loyalty_rules', rules: await svc.rules(mid(c)) };
    });
    router.put('/v1/loyalty/rules', ctx.requireMerchant, async (c) => {
      c.body = { object: 'loyalty_rules', rules: await svc.setRules(mid(c), body(c)) };
    });
    router.post('/v1/loyalty/cards', ctx.requireMerchant, ctx.idempotent, async (c) => {
      const { card, code } = await svc.issueCard(mid(c), body(c));
      c.status = 201;
      // The code is shown once: give it to the holder (it opens /loyalty/<number>).
      c.body = { ...(await svc.cardJson(card)), code };
    });
    router.get('/v1/loyalty/cards/:number', ctx.requireMerchant, async (c) => {
      c.body = await svc.cardJson(await svc.card(mid(c), c.params.number!));
    });
    router.get('/v1/loyalty/cards/:number/movements', ctx.requireMerchant, async (c) => {
      const card = await svc.card(mid(c), c.params.number!);
      c.body = { object: 'list', data: await svc.movements(card.number) };
    });
    router.post('/v1/loyalty/cards/:number/adjustments', ctx.requireMerchant, ctx.idempotent, async (c) => {
      const balance = await svc.adjust(mid(c), c.params.number!, body(c));
      c.status = 201;
      c.body = { object: 'loyalty_adjustment', balance, currency: POINTS };
    });
    router.post('/v1/loyalty/orders', ctx.requireMerchant, ctx.idempotent, async (c) => {
      c.status = 201;
      c.body = await svc.createOrder(mid(c), body(c));
    });
    // Settles watched orders now (what the worker loop does on its schedule). Operator only.
    router.post('/v1/loyalty/run', ctx.requireAdmin, async (c) => {
      c.body = { object: 'loyalty_run', ...(await svc.runOnce()) };
    });

    // Holder page: the card number in the path, the secret code typed into the form (never in a URL).
    router.get('/loyalty/:number', async (c) => {
      const num = cleanNumber(c.params.number);
      c.type = 'text/html';
      c.set('Cache-Control', 'no-store');
      c.body = page('Loyalty card', `<p>Card ${esc(masked(num))}</p>
<form method="post"><label>Secret code <input name="code" autocomplete="off" required maxlength="16"></label>
<button type="submit">Show balance</button></form>`);
    });
    router.post('/loyalty/:number', async (c) => {
      const num = cleanNumber(c.params.number);
      const res = await svc.checkCode(num, String(body(c).code ?? ''));
      c.type = 'text/html';
      c.set('Cache-Control', 'no-store');
      if (res === null || res === 'locked') {
        c.status = res === 'locked' ? 429 : 403;
        const msg = res === 'locked' ? 'Too many wrong codes: try again later.' : 'The card number or the code is wrong.';
        c.body = page('Loyalty card', `<p class="err">${msg}</p><p><a href="/loyalty/${esc(encodeURIComponent(num))}">Back</a></p>`);
        return;
      }
      const balance = await svc.balance(res.number);
      const moves = await svc.movements(res.number, 20);
      c.body = page('Loyalty card', `<p>Card ${esc(masked(res.number))}${res.holder_name ? `, ${esc(res.holder_name)}` : ''}</p>
<p>Balance: <strong data-balance="${balance}">${balance}</strong> points</p>
<table><thead><tr><th>Date</th><th>Movement</th><th>Points</th></tr></thead><tbody>
${moves.map((m) => `<tr><td>${esc(String(m.created_at).slice(0, 10))}</td><td>${esc(String(m.kind).replace(/^loyalty_/, '').replace(/_/g, ' '))}</td><td>${m.points}</td></tr>`).join('\n')}
</tbody></table>`);
    });
  },
  async onReady(ctx) {
    const role = (ctx as { role?: string }).role ?? 'server';
    const svc = services.get(ctx.container);
    if (!ctx.options.worker || !ctx.config.workers.enabled || role === 'cli' || !svc) return;
    const loop: { timer: NodeJS.Timeout; running: Promise<unknown> | null } = {
      running: null,
      timer: setInterval(() => {
        if (loop.running) return;
        loop.running = svc.runOnce().catch((e: Error) => ctx.logger.warn({ err: e.message }, 'loyalty: pass failed')).finally(() => { loop.running = null; });
      }, ctx.options.intervalMs),
    };
    loop.timer.unref();
    loops.set(ctx.container, loop);
  },
  async onClose(ctx) {
    const loop = loops.get(ctx.container);
    if (!loop) return;
    clearInterval(loop.timer);
    loops.delete(ctx.container);
    await loop.running;
  },
  commands: [{
    name: 'loyalty-run',
    description: 'Settle loyalty points of watched orders once (earn after capture, reverse on refund)',
    async run(_args, ctx) {
      const svc = new Loyalty({
        db: () => ctx.db, payments: () => ctx.container.resolve(TOKENS.Payments), ledger: () => ctx.container.resolve(TOKENS.Ledger),
        keyring: () => ctx.container.resolve(TOKENS.Keyring), clock: () => ctx.container.resolve(TOKENS.Clock), logger: ctx.logger, options: ctx.options,
      });
      const r = await svc.runOnce();
      process.stdout.write(`${JSON.stringify(r)}\n`);
      return 0;
    },
  }],
});
