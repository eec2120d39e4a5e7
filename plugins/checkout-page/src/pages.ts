import type Router from '@koa/router';
import type { Context } from 'koa';
import { Eta } from 'eta';
import {
  PayhubError, TOKENS, ValidationError, safeEqual,
  type AttemptView, type CheckoutExtension, type Clock, type Db, type Keyring, type MerchantView, type MerchantsService, type NextAction,
  type OrderView, type PaymentMethod, type PaymentsService, type RequestInfo, type RouteContext, type Runtime,
} from '@payhub/core';
import { loadAssets, VIEWS_DIR, type Asset } from './assets';
import { formatAmount, formatDate, LANGS, pickLang, TEXTS, type Lang, type Texts } from './i18n';
import { decodePreviewTheme, frameAncestors, parseTheme, themeCss, type Theme } from './theme';
import { DEFAULT_RATE_LIMIT, hitRateLimit, loadTheme, pruneRateHits, saveTheme, type RateLimit } from './store';
import { SNIPPET_FIELDS, verifySnippet, type SnippetFields } from './snippet';

type Dict = Record<string, unknown>;

/** Card form fields of the page → field names of the card method's errors. */
const FIELD_OF: Record<string, 'number' | 'exp' | 'cvc' | 'holder'> = {
  'card.number': 'number', 'card.exp_month': 'exp', 'card.exp_year': 'exp', 'card.expiry': 'exp', 'card.cvc': 'cvc', 'card.holder': 'holder',
};

/** Products of the demo shop (GET /demo). */
export const DEMO_PRODUCTS = [
  { id: 'mug', amount: 49_900, currency: 'RUB', name: { ru: 'Кружка Payhub', en: 'Payhub mug', de: 'Payhub-Tasse' } },
  { id: 'tshirt', amount: 129_000, currency: 'RUB', name: { ru: 'Футболка Payhub', en: 'Payhub T-shirt', de: 'Payhub-T-Shirt' } },
] as const;

interface PageDeps {
  payments: PaymentsService;
  db: Db;
  keyring: Keyring;
  clock: Clock;
  runtime: Runtime;
  merchants: () => MerchantsService;
  methods: () => PaymentMethod[];
  extensions: () => CheckoutExtension[];
  rateLimit: RateLimit;
}

const EXT_ID = /^[a-z0-9-]{1,64}$/;
const EXT_FIELD = /^[a-z0-9_]{1,40}$/;

/** The extensions whose id and field names are usable in the page (the others are skipped, with a warning). */
function validExtensions(all: CheckoutExtension[], warn: (id: string) => void): CheckoutExtension[] {
  const seen = new Set<string>();
  return all.filter((x) => {
    const ok = typeof x?.id === 'string' && EXT_ID.test(x.id) && !seen.has(x.id) && Array.isArray(x.fields) && x.fields.length > 0
      && x.fields.every((f) => typeof f?.name === 'string' && EXT_FIELD.test(f.name));
    if (!ok) warn(String(x?.id));
    else seen.add(x.id);
    return ok;
  });
}

/** The text of a language, English as the fallback. */
function pick(texts: Readonly<Record<string, string>> | undefined, lang: Lang): string {
  if (!texts) return '';
  return texts[lang] ?? texts.en ?? Object.values(texts)[0] ?? '';
}

const fieldMax = (f: { maxLength?: number }): number => (Number.isInteger(f.maxLength) && f.maxLength! > 0 ? Math.min(f.maxLength!, 200) : 100);

function body(ctx: Context): Dict {
  const b = (ctx.request as { body?: unknown }).body;
  return b && typeof b === 'object' && !Array.isArray(b) ? (b as Dict) : {};
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Parses MM/YY, MM / YY, MMYY or MM/YYYY into month and year strings. */
export function parseExpiry(raw: string): { month: string; year: string } | null {
  const m = /^\s*(\d{1,2})\s*[/\-.]?\s*(\d{2}|\d{4})\s*$/.exec(raw);
  if (!m) return null;
  return { month: m[1]!, year: m[2]!.length === 2 ? `20${m[2]}` : m[2]! };
}

export function returnUrlFor(order: OrderView): string | null {
  if (!order.returnUrl) return null;
  try {
    const u = new URL(order.returnUrl);
    u.searchParams.set('order_id', order.id);
    u.searchParams.set('status', order.status);
    return u.toString();
  } catch {
    return null;
  }
}

export function mountPages(router: Router, rctx: RouteContext<unknown>): void {
  const c = rctx.container;
  const d: PageDeps = {
    payments: c.resolve(TOKENS.Payments),
    db: c.resolve(TOKENS.Db),
    keyring: c.resolve(TOKENS.Keyring),
    clock: c.resolve(TOKENS.Clock),
    runtime: c.resolve(TOKENS.Runtime),
    merchants: () => c.resolve(TOKENS.Merchants),
    methods: (() => {
      let cached: PaymentMethod[] | null = null;
      return () => (cached ??= c.isRegistered(TOKENS.PaymentMethod, true) ? c.resolveAll(TOKENS.PaymentMethod) : []);
    })(),
    extensions: (() => {
      let cached: CheckoutExtension[] | null = null;
      return () => (cached ??= validExtensions(
        c.isRegistered(TOKENS.CheckoutExtension, true) ? c.resolveAll(TOKENS.CheckoutExtension) : [],
        (id) => rctx.logger.warn({ extension: id }, 'checkout-page: checkout extension skipped (bad or duplicate id or field names)'),
      ));
    })(),
    rateLimit: DEFAULT_RATE_LIMIT,
  };
  const assets = loadAssets();
  const eta = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true });
  const logger = rctx.logger;

  const asset = (name: string): Asset => {
    const a = assets.get(name);
    if (!a) throw new Error(`checkout-page: missing asset ${name}`);
    return a;
  };
  const assetUrl = (name: string) => `/pay/static/${name}?v=${asset(name).version}`;
  const script = (name: string) => ({ src: assetUrl(name), integrity: asset(name).integrity });

  const csrfToken = (scope: string) => d.keyring.fingerprint('checkout-page:csrf', scope);
  const csrfOk = (scope: string, given: unknown) => typeof given === 'string' && safeEqual(csrfToken(scope), given);

  function setHeaders(ctx: Context, o: { theme?: Theme | null; noStore?: boolean; formAction?: string }): void {
    const csp = [
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' https: data:",
      "font-src 'self' https: data:",
      "connect-src 'self'",
      "base-uri 'none'",
      `frame-ancestors ${frameAncestors(o.theme ?? null)}`,
      ...(o.formAction ? [`form-action ${o.formAction}`] : []),
    ];
    ctx.set('Content-Security-Policy', csp.join('; '));
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', o.noStore === false ? 'no-cache' : 'no-store');
  }

  function langLinks(ctx: Context, lang: Lang) {
    return LANGS.map((l) => {
      const u = new URL(ctx.originalUrl, 'http://x');
      u.searchParams.set('lang', l);
      return { lang: l, href: u.pathname + u.search, current: l === lang };
    });
  }

  interface Frame { lang: Lang; t: Texts; theme: Theme | null; shopName: string; themeCss: string }

  function render(ctx: Context, view: string, f: Frame, data: Dict, status = 200, headers: { noStore?: boolean; formAction?: string } = {}): void {
    setHeaders(ctx, { theme: f.theme, ...headers });
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = eta.render(view, {
      ...data, lang: f.lang, t: f.t, shopName: f.shopName, logoUrl: f.theme?.logo_url ?? null,
      css: assetUrl('checkout.css'), themeCss: f.themeCss, script: script('checkout.js'), langs: langLinks(ctx, f.lang),
    });
  }

  function plainFrame(ctx: Context, lang?: Lang): Frame {
    const l = lang ?? pickLang(ctx.query.lang ?? body(ctx).lang, (...a) => ctx.acceptsLanguages(...a));
    return { lang: l, t: TEXTS[l], theme: null, shopName: 'Payhub', themeCss: '/pay/theme/default.css' };
  }

  function message(ctx: Context, f: Frame, status: number, title: string, text: string, backUrl?: string | null): void {
    render(ctx, 'message', f, { title, text, backUrl: backUrl ?? null, status }, status);
  }

  function requestInfo(ctx: Context, lang: Lang): RequestInfo {
    return { ...rctx.requestInfo(ctx), lang };
  }

  /** Payment methods this merchant can use for this order (the engine's availability rule). */
  function methodsFor(merchant: MerchantView, order: OrderView): Promise<PaymentMethod[]> {
    return d.payments.availableMethods(merchant.id, order.currency);
  }

  async function frameFor(ctx: Context, merchant: MerchantView): Promise<Frame> {
    const lang = pickLang(ctx.query.lang ?? body(ctx).lang, (...a) => ctx.acceptsLanguages(...a));
    const theme = await loadTheme(d.db, merchant.id);
    const v = theme ? d.keyring.fingerprint('checkout-page:theme', JSON.stringify(theme)).slice(0, 12) : 'default';
    return { lang, t: TEXTS[lang], theme, shopName: merchant.name, themeCss: `/pay/theme/${merchant.id}.css?v=${v}` };
  }

  const payUrl = (orderId: string, lang: Lang) => `/pay/${encodeURIComponent(orderId)}?lang=${lang}`;

  function summary(order: OrderView, lang: Lang) {
    return {
      orderNumber: order.orderNumber,
      status: order.status,
      description: order.description,
      amount: formatAmount(order.amount, order.currency, lang),
      expires: formatDate(order.expiresAt, lang),
    };
  }

  interface FormState {
    errors?: Partial<Record<'number' | 'exp' | 'cvc' | 'holder', string>>;
    notice?: string | null;
    values?: { exp?: string; holder?: string };
    /** The answer of a checkout extension the buyer just submitted. */
    ext?: { id: string; ok: boolean; field?: string; message: string };
  }

  /** The extension sections offered for this order (an extension that fails is left out and logged). */
  async function extensionSections(f: Frame, order: OrderView, state: FormState) {
    const out = [];
    for (const x of d.extensions()) {
      let offered = false;
      try {
        offered = await x.isOffered({ merchantId: order.merchantId, orderId: order.id });
      } catch (e) {
        logger.warn({ extension: x.id, order: order.id, err: (e as Error).message }, 'checkout-page: checkout extension failed (isOffered)');
      }
      if (!offered) continue;
      const res = state.ext?.id === x.id ? state.ext : null;
      out.push({
        id: x.id,
        title: pick(x.title, f.lang) || x.id,
        action: `/pay/${encodeURIComponent(order.id)}/extensions/${x.id}`,
        message: res?.ok ? res.message : null,
        fields: x.fields.map((fd) => ({
          name: fd.name,
          inputId: `ext-${x.id}-${fd.name}`,
          label: pick(fd.label, f.lang) || fd.name,
          inputmode: fd.inputmode === 'numeric' ? 'numeric' : 'text',
          autocomplete: typeof fd.autocomplete === 'string' && /^[a-z0-9 -]{1,60}$/.test(fd.autocomplete) ? fd.autocomplete : 'off',
          maxLength: fieldMax(fd),
          error: res && !res.ok && res.field === fd.name ? res.message : '',
        })),
      });
    }
    return out;
  }

  async function renderPayForm(ctx: Context, f: Frame, merchant: MerchantView, order: OrderView, state: FormState, status = 200, preview = false): Promise<void> {
    const methods = preview ? d.methods().filter((m) => m.id === 'card') : await methodsFor(merchant, order);
    const hasCard = preview || methods.some((m) => m.id === 'card');
    const others = methods.filter((m) => m.id !== 'card').map((m) => ({
      id: m.id, label: m.displayName[f.lang] ?? m.displayName.en ?? m.id,
    }));
    const extensions = preview ? [] : await extensionSections(f, order, state);
    render(ctx, 'pay', f, {
      title: `${f.t.title} ${order.orderNumber}`,
      extensions,
      order: summary(order, f.lang),
      action: preview ? null : `/pay/${encodeURIComponent(order.id)}`,
      csrf: preview ? '' : csrfToken(order.id),
      hasCard, others, preview,
      errors: state.errors ?? {},
      errorCount: Object.keys(state.errors ?? {}).length,
      notice: state.notice ?? null,
      values: state.values ?? {},
      backUrl: returnUrlFor(order),
    }, status);
  }

  async function renderStatus(ctx: Context, f: Frame, order: OrderView, attempt: AttemptView | null): Promise<void> {
    const t = f.t;
    const s = order.status;
    let kind: 'success' | 'pending' | 'action' | 'final';
    let heading: string;
    if (s === 'paid' || s === 'authorized' || s === 'partially_refunded') {
      kind = 'success';
      heading = s === 'authorized' ? t.authorized : t.paid;
    } else if (s === 'refunded') {
      kind = 'final';
      heading = t.refunded;
    } else if (s === 'requires_action') {
      kind = 'action';
      heading = t.requiresAction;
    } else if (s === 'processing') {
      kind = 'pending';
      heading = t.processing;
    } else {
      kind = 'final';
      heading = s === 'expired' ? t.expired : t.canceled;
    }
    const next: NextAction | null = kind === 'action' ? attempt?.nextAction ?? null : null;
    render(ctx, 'status', f, {
      title: heading, kind, heading, order: summary(order, f.lang), backUrl: returnUrlFor(order),
      next, refreshUrl: payUrl(order.id, f.lang), statusText: (t as Record<string, string>)[`status_${s}`] ?? s,
      card: attempt?.methodData?.masked ? String(attempt.methodData.masked).slice(-4) : null,
    });
  }

  async function latestAttempt(orderId: string): Promise<AttemptView | null> {
    const list = await d.payments.listAttempts(orderId);
    if (!list.length) return null;
    return [...list].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0)).at(-1) ?? null;
  }

  /** Where the buyer goes after an attempt was stored. */
  function afterAttempt(ctx: Context, f: Frame, order: OrderView, a: AttemptView): void {
    const na = a.nextAction;
    if (na && (a.status === 'requires_action' || a.status === 'pending')) {
      if (na.type === 'redirect') {
        ctx.status = 303;
        ctx.set('Cache-Control', 'no-store');
        ctx.redirect(na.url);
        return;
      }
      let origin = "'self'";
      try {
        origin = new URL(na.url, d.runtime.baseUrl()).origin;
      } catch {
        /* keep self */
      }
      render(ctx, 'action', f, {
        title: f.t.redirecting, next: na,
      }, 200, { formAction: origin });
      return;
    }
    ctx.status = 303;
    ctx.set('Cache-Control', 'no-store');
    ctx.redirect(payUrl(order.id, f.lang));
  }

  async function loadOrder(ctx: Context): Promise<{ order: OrderView; merchant: MerchantView } | null> {
    const id = ctx.params.order_id!;
    if (!/^ord_[0-9A-Za-z]{8,40}$/.test(id)) return null;
    const order = await d.payments.getOrder(id);
    if (!order) return null;
    const merchant = await d.payments.getMerchant(order.merchantId);
    return merchant ? { order, merchant } : null;
  }

  /* ------------------------------------------------------------------ static files and theme CSS */

  const serveStatic = (ctx: Context, p: string) => {
    const a = assets.get(p);
    if (!a) {
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'Not found';
      return;
    }
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = a.type;
    ctx.body = a.body;
  };
  router.get('/pay/static/:file', (ctx) => serveStatic(ctx, ctx.params.file!));
  router.get('/pay/static/icons/:file', (ctx) => serveStatic(ctx, `icons/${ctx.params.file!}`));

  router.get('/payhub.js', (ctx) => {
    const a = asset('payhub.js');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Access-Control-Allow-Origin', '*');
    ctx.set('Cross-Origin-Resource-Policy', 'cross-origin');
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.type = a.type;
    ctx.body = a.body;
  });

  router.get('/pay/theme/:file', async (ctx) => {
    const file = ctx.params.file!;
    let css: string;
    if (file === 'default.css') css = themeCss(null);
    else if (file === 'preview.css') {
      try {
        css = themeCss(decodePreviewTheme(ctx.query.theme));
      } catch {
        css = themeCss(null);
      }
    } else {
      const m = /^(mer_[0-9A-Za-z]{8,40})\.css$/.exec(file);
      css = themeCss(m ? await loadTheme(d.db, m[1]!) : null);
    }
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = css;
  });

  /* ------------------------------------------------------------------ theme API */

  router.get('/v1/checkout-theme', rctx.requireMerchant, async (ctx) => {
    const m = ctx.state.merchant as MerchantView;
    const theme = await loadTheme(d.db, m.id);
    ctx.body = { merchant_id: m.id, configured: theme !== null, theme: theme ?? {}, stylesheet: `${d.runtime.baseUrl()}/pay/theme/${m.id}.css` };
  });

  router.put('/v1/checkout-theme', rctx.requireMerchant, async (ctx) => {
    const m = ctx.state.merchant as MerchantView;
    const theme = parseTheme((ctx.request as { body?: unknown }).body);
    await saveTheme(d.db, d.clock, m.id, theme);
    await d.payments.audit({ merchantId: m.id, actor: 'merchant', action: 'checkout_theme.updated', data: { fields: Object.keys(theme) } });
    ctx.body = { merchant_id: m.id, configured: true, theme };
  });

  /* ------------------------------------------------------------------ preview (before /pay/:order_id) */

  router.get('/pay/preview', async (ctx) => {
    const lang = pickLang(ctx.query.lang, (...a) => ctx.acceptsLanguages(...a));
    let theme: Theme;
    try {
      theme = ctx.query.theme === undefined ? {} : decodePreviewTheme(ctx.query.theme);
    } catch (e) {
      const f = plainFrame(ctx, lang);
      const fields = e instanceof ValidationError ? e.fields.map((x) => `${x.field}: ${x.message}`).join('; ') : '';
      message(ctx, f, 422, f.t.error, fields);
      return;
    }
    const themeParam = typeof ctx.query.theme === 'string' ? ctx.query.theme : '';
    const f: Frame = {
      lang, t: TEXTS[lang], theme, shopName: 'Preview shop',
      themeCss: themeParam ? `/pay/theme/preview.css?theme=${encodeURIComponent(themeParam)}` : '/pay/theme/default.css',
    };
    const now = d.clock.now();
    const fake: OrderView = {
      id: 'ord_preview', merchantId: 'mer_preview', orderNumber: 'PREVIEW-1', amount: 123_456, currency: 'RUB',
      description: 'Preview order', captureMode: 'automatic', status: 'created', mode: 'test', returnUrl: null, customer: {},
      metadata: {}, expiresAt: new Date(now.getTime() + 86_400_000).toISOString(), amountAuthorized: 0, amountCaptured: 0,
      amountRefunded: 0, createdAt: now.toISOString(),
    };
    await renderPayForm(ctx, f, null as unknown as MerchantView, fake, {}, 200, true);
  });

  /* ------------------------------------------------------------------ the snippet: POST /pay */

  router.post('/pay', async (ctx) => {
    const b = body(ctx);
    const f = plainFrame(ctx);
    const fields = {} as SnippetFields;
    for (const k of SNIPPET_FIELDS) fields[k] = str(b[k]);
    const signature = str(b.signature);
    const problems: string[] = [];
    if (!/^mer_[0-9A-Za-z]{8,40}$/.test(fields.merchant_id)) problems.push('merchant_id');
    if (!/^[A-Za-z0-9._:\-/#]{1,64}$/.test(fields.order_number)) problems.push('order_number');
    if (!/^[1-9]\d{0,12}$/.test(fields.amount)) problems.push('amount');
    if (!/^[A-Z]{3}$/.test(fields.currency)) problems.push('currency');
    if (fields.description.length > 1000) problems.push('description');
    if (fields.return_url.includes('|')) problems.push('return_url');
    if (!signature) problems.push('signature');
    if (problems.length) {
      message(ctx, f, 400, f.t.snippetInvalid, problems.join(', '));
      return;
    }
    let formKey: string | null = null;
    let merchantRec: { status: string; name: string } | null = null;
    try {
      const r = await d.merchants().get(fields.merchant_id);
      if (r) {
        merchantRec = r;
        formKey = await d.merchants().formKey(fields.merchant_id);
      }
    } catch {
      formKey = null;
    }
    // Unknown merchant and wrong signature look the same.
    if (!formKey || !merchantRec || !verifySnippet(formKey, fields, signature)) {
      await d.payments.audit({ merchantId: merchantRec ? fields.merchant_id : undefined, actor: 'buyer', action: 'checkout_snippet.bad_signature', data: { order_number: fields.order_number } }).catch(() => undefined);
      message(ctx, f, 403, f.t.snippetBad, f.t.snippetBadText);
      return;
    }
    if (merchantRec.status !== 'active') {
      message(ctx, f, 403, f.t.unavailable, '');
      return;
    }
    const amount = Number(fields.amount);
    let order = await d.payments.findOrderByNumber(fields.merchant_id, fields.order_number);
    if (order && (order.amount !== amount || order.currency !== fields.currency)) {
      message(ctx, f, 409, f.t.snippetConflict, fields.order_number);
      return;
    }
    if (!order) {
      try {
        order = await d.payments.createOrder(fields.merchant_id, {
          order_number: fields.order_number, amount, currency: fields.currency,
          ...(fields.description ? { description: fields.description } : {}),
          ...(fields.return_url ? { return_url: fields.return_url } : {}),
          metadata: { source: 'checkout-page.snippet' },
        });
      } catch (e) {
        if (e instanceof PayhubError && e.status === 409) {
          order = await d.payments.findOrderByNumber(fields.merchant_id, fields.order_number);
          if (!order || order.amount !== amount || order.currency !== fields.currency) {
            message(ctx, f, 409, f.t.snippetConflict, fields.order_number);
            return;
          }
        } else if (e instanceof ValidationError) {
          message(ctx, f, 400, f.t.snippetInvalid, e.fields.map((x) => `${x.field}: ${x.message}`).join('; '));
          return;
        } else throw e;
      }
    }
    setHeaders(ctx, {});
    ctx.status = 303;
    ctx.redirect(payUrl(order.id, f.lang));
  });

  /* ------------------------------------------------------------------ the payment page */

  router.get('/pay/:order_id', async (ctx) => {
    const found = await loadOrder(ctx);
    if (!found) {
      const f = plainFrame(ctx);
      message(ctx, f, 404, f.t.notFound, f.t.notFoundText);
      return;
    }
    const { order, merchant } = found;
    const f = await frameFor(ctx, merchant);
    const last = await latestAttempt(order.id);
    if (order.status === 'created') {
      if (Date.parse(order.expiresAt) <= d.clock.now().getTime()) {
        await renderStatus(ctx, f, { ...order, status: 'expired' }, last);
        return;
      }
      let notice: string | null = null;
      if (last && (last.status === 'declined' || last.status === 'failed' || last.status === 'canceled')) {
        notice = last.status === 'declined' ? f.t.declined : f.t.failed;
      }
      await renderPayForm(ctx, f, merchant, order, { notice });
      return;
    }
    await renderStatus(ctx, f, order, last);
  });

  /* ------------------------------------------------------------------ checkout extensions (e.g. a loyalty card) */

  /** The start of a buyer's POST: the order, its frame and body, the CSRF check. Answers 404/403 itself (then null). */
  async function buyerPost(ctx: Context, audit: Record<string, unknown>, known = true) {
    const found = known ? await loadOrder(ctx) : null;
    if (!found) {
      const f = plainFrame(ctx);
      message(ctx, f, 404, f.t.notFound, f.t.notFoundText);
      return null;
    }
    const { order, merchant } = found;
    const f = await frameFor(ctx, merchant);
    const b = body(ctx);
    if (!csrfOk(order.id, b.csrf)) {
      await d.payments.audit({ merchantId: merchant.id, actor: 'buyer', action: 'checkout_page.csrf_refused', data: { order: order.id, ...audit } }).catch(() => undefined);
      message(ctx, f, 403, f.t.error, f.t.csrf, payUrl(order.id, f.lang));
      return null;
    }
    return { order, merchant, f, b };
  }

  router.post('/pay/:order_id/extensions/:ext_id', async (ctx) => {
    const x = d.extensions().find((e) => e.id === ctx.params.ext_id);
    const p = await buyerPost(ctx, { extension: x?.id }, x !== undefined);
    if (!p || !x) return;
    const { order, merchant, f, b } = p;
    // Its own budget per order (the same limit as payment attempts), so trying a code does not use up the payments.
    const rl = await hitRateLimit(d.db, d.clock, `ext:${order.id}`.slice(0, 40), d.rateLimit);
    if (!rl.allowed) {
      ctx.set('Retry-After', String(rl.retryAfter));
      message(ctx, f, 429, f.t.error, f.t.tooMany, payUrl(order.id, f.lang));
      return;
    }
    // Only while the order is payable; afterwards the page shows its status.
    if (order.status !== 'created' || Date.parse(order.expiresAt) <= d.clock.now().getTime()) {
      ctx.status = 303;
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(payUrl(order.id, f.lang));
      return;
    }
    let offered = false;
    try {
      offered = await x.isOffered({ merchantId: merchant.id, orderId: order.id });
    } catch {
      offered = false;
    }
    if (!offered) {
      ctx.status = 303;
      ctx.set('Cache-Control', 'no-store');
      ctx.redirect(payUrl(order.id, f.lang));
      return;
    }
    const values: Record<string, string> = {};
    for (const fd of x.fields) values[fd.name] = str(b[fd.name]).trim().slice(0, fieldMax(fd));
    let state: FormState['ext'];
    try {
      const r = await x.apply({ merchantId: merchant.id, orderId: order.id, values });
      if (r.ok) state = { id: x.id, ok: true, message: pick(r.message, f.lang) };
      else {
        const field = x.fields.some((fd) => fd.name === r.field) ? r.field : x.fields[0]!.name;
        state = { id: x.id, ok: false, field, message: pick(r.message, f.lang) || f.t.failed };
      }
    } catch (e) {
      logger.warn({ extension: x.id, order: order.id, err: (e as Error).message }, 'checkout-page: checkout extension failed (apply)');
      await renderPayForm(ctx, f, merchant, order, { notice: f.t.unavailable }, 503);
      return;
    }
    await renderPayForm(ctx, f, merchant, order, { ext: state }, state.ok ? 200 : 422);
  });

  router.post('/pay/:order_id', async (ctx) => {
    const p = await buyerPost(ctx, {});
    if (!p) return;
    const { order, merchant, f, b } = p;
    const rl = await hitRateLimit(d.db, d.clock, order.id, d.rateLimit);
    if (!rl.allowed) {
      ctx.set('Retry-After', String(rl.retryAfter));
      message(ctx, f, 429, f.t.error, f.t.tooMany, returnUrlFor(order));
      return;
    }
    if (Math.random() < 0.02) void pruneRateHits(d.db, d.clock, d.rateLimit).catch(() => undefined);
    if (order.status !== 'created') {
      afterAttempt(ctx, f, order, (await latestAttempt(order.id)) ?? ({ nextAction: null, status: 'pending' } as unknown as AttemptView));
      return;
    }
    const method = str(b.method) || 'card';
    let input: Dict = {};
    const values = { exp: str(b.card_exp).slice(0, 10), holder: str(b.card_holder).slice(0, 100) };
    if (method === 'card') {
      const exp = parseExpiry(str(b.card_exp));
      if (!exp) {
        await renderPayForm(ctx, f, merchant, order, { errors: { exp: f.t.invalidExpiry }, values }, 422);
        return;
      }
      input = {
        card: {
          number: str(b.card_number).slice(0, 40), exp_month: exp.month, exp_year: exp.year,
          cvc: str(b.card_cvc).slice(0, 8), holder: str(b.card_holder).trim().slice(0, 100),
        },
      };
    }
    let attempt: AttemptView;
    try {
      attempt = await d.payments.startAttempt({
        merchantId: merchant.id, orderId: order.id, method, input, source: 'page', request: requestInfo(ctx, f.lang),
      });
    } catch (e) {
      if (e instanceof ValidationError) {
        const errors: FormState['errors'] = {};
        const msg = { number: f.t.invalidNumber, exp: f.t.invalidExpiry, cvc: f.t.invalidCvc, holder: f.t.invalidHolder };
        let general = false;
        for (const fe of e.fields) {
          const k = FIELD_OF[fe.field];
          if (k) errors[k] = msg[k];
          else general = true;
        }
        await renderPayForm(ctx, f, merchant, order, { errors, values, notice: general || !Object.keys(errors).length ? f.t.failed : null }, 422);
        return;
      }
      if (e instanceof PayhubError && e.status === 409) {
        ctx.status = 303;
        ctx.redirect(payUrl(order.id, f.lang));
        return;
      }
      logger.warn({ order: order.id, code: e instanceof PayhubError ? e.code : 'error' }, 'checkout-page: payment could not start');
      await renderPayForm(ctx, f, merchant, order, { values, notice: f.t.unavailable }, e instanceof PayhubError && e.status < 500 ? e.status : 503);
      return;
    }
    const now = (await d.payments.getOrder(order.id)) ?? order;
    afterAttempt(ctx, f, now, attempt);
  });
}

/** Demo shop: GET /demo, POST /demo/buy, GET /demo/return. Mounted only when config.demo.enabled. */
export function mountDemo(router: Router, rctx: RouteContext<unknown>): void {
  const c = rctx.container;
  const payments: PaymentsService = c.resolve(TOKENS.Payments);
  const db: Db = c.resolve(TOKENS.Db);
  const keyring: Keyring = c.resolve(TOKENS.Keyring);
  const runtime: Runtime = c.resolve(TOKENS.Runtime);
  const assets = loadAssets();
  const eta = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true });
  const csrf = () => keyring.fingerprint('checkout-page:csrf', 'demo');

  const demoMerchant = (): Promise<string | null> => payments.demoMerchantId();

  const page = (ctx: Context, view: string, lang: Lang, data: Dict, status = 200) => {
    ctx.set('Content-Security-Policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'");
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cache-Control', 'no-store');
    ctx.status = status;
    ctx.type = 'text/html; charset=utf-8';
    const css = assets.get('checkout.css')!;
    ctx.body = eta.render(view, {
      ...data, lang, t: TEXTS[lang], shopName: 'Demo shop', logoUrl: null, css: `/pay/static/checkout.css?v=${css.version}`,
      themeCss: '/pay/theme/default.css', script: null,
      langs: LANGS.map((l) => {
        const u = new URL(ctx.originalUrl, 'http://x');
        u.searchParams.set('lang', l);
        return { lang: l, href: u.pathname + u.search, current: l === lang };
      }),
    });
  };

  router.get('/demo', async (ctx) => {
    const lang = pickLang(ctx.query.lang, (...a) => ctx.acceptsLanguages(...a));
    const mid = await demoMerchant();
    page(ctx, 'demo', lang, {
      title: TEXTS[lang].demoTitle, missing: !mid, csrf: csrf(),
      products: DEMO_PRODUCTS.map((p) => ({ id: p.id, name: p.name[lang], price: formatAmount(p.amount, p.currency, lang) })),
    }, mid ? 200 : 503);
  });

  router.post('/demo/buy', async (ctx) => {
    const b = body(ctx);
    const lang = pickLang(b.lang, (...a) => ctx.acceptsLanguages(...a));
    const product = DEMO_PRODUCTS.find((p) => p.id === b.product);
    const mid = await demoMerchant();
    if (!mid || !product || b.csrf !== csrf()) {
      page(ctx, 'message', lang, { title: TEXTS[lang].error, text: TEXTS[lang].demoMissing, backUrl: '/demo', status: 400 }, 400);
      return;
    }
    const order = await payments.createOrder(mid, {
      order_number: `demo-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
      amount: product.amount, currency: product.currency, description: product.name[lang],
      return_url: `${runtime.baseUrl()}/demo/return?lang=${lang}`,
    });
    ctx.status = 303;
    ctx.redirect(`/pay/${order.id}?lang=${lang}`);
  });

  router.get('/demo/return', async (ctx) => {
    const lang = pickLang(ctx.query.lang, (...a) => ctx.acceptsLanguages(...a));
    const id = typeof ctx.query.order_id === 'string' ? ctx.query.order_id : '';
    const mid = await demoMerchant();
    const order = /^ord_[0-9A-Za-z]{8,40}$/.test(id) ? await payments.getOrder(id) : null;
    if (!order || order.merchantId !== mid) {
      page(ctx, 'message', lang, { title: TEXTS[lang].notFound, text: TEXTS[lang].notFoundText, backUrl: '/demo', status: 404 }, 404);
      return;
    }
    page(ctx, 'demo-return', lang, {
      title: TEXTS[lang].demoReturn, status: order.status,
      statusText: (TEXTS[lang] as Record<string, string>)[`status_${order.status}`] ?? order.status,
      orderNumber: order.orderNumber, amount: formatAmount(order.amount, order.currency, lang),
    });
  });
}
