import fs from 'node:fs';
import path from 'node:path';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { Eta } from 'eta';
import {
  PayhubError, TOKENS, fromMajorString, safeEqual, toMajorString, ORDER_STATUSES,
  type MerchantRecord, type RouteContext,
} from '@payhub/core';
import type { DashboardOptions } from './options';
import type { Onboarding } from './onboarding';
import {
  MERCHANT_ROLES, Sessions, Throttle, createUser, hashPassword, issueToken, passwordProblem, peekToken, useToken, verifyPassword,
  type Role, type SessionRow, type UserRow,
} from './auth';
import { LANGS, translator, type Lang } from './i18n';
import { barChart, type Bar } from './charts';
import { PANEL_LIMIT, PanelRegistry, normalizePanelData, panelQuery, titleOf } from './panels';

const VIEWS = path.resolve(__dirname, '..', '..', 'views');
const COOKIE = 'payhub_sid';
const LANG_COOKIE = 'payhub_lang';

interface Req {
  ctx: Context;
  lang: Lang;
  t: ReturnType<typeof translator>;
  session: SessionRow | null;
  user: UserRow | null;
  merchant: MerchantRecord | null;
  body: Record<string, string>;
}

class PageError extends Error {
  constructor(readonly status: number, readonly key: string) {
    super(key);
  }
}

type Auth = 'none' | 'user' | 'merchant' | 'operator';

function formBody(ctx: Context): Record<string, string> {
  const b = (ctx.request as { body?: unknown }).body;
  const out: Record<string, string> = {};
  if (b && typeof b === 'object' && !Array.isArray(b)) {
    for (const [k, v] of Object.entries(b as Record<string, unknown>)) if (typeof v === 'string') out[k] = v.slice(0, 5000);
  }
  return out;
}

const q = (ctx: Context, k: string): string => {
  const v = ctx.query[k];
  return typeof v === 'string' ? v.trim().slice(0, 200) : '';
};

/** The dashboard: server-rendered pages for merchants and the operator. */
export function mountWeb(router: Router, rc: RouteContext<DashboardOptions>, ob: Onboarding, sessions: Sessions, throttle: Throttle): void {
  const { db, clock, merchants, payments } = ob;
  const o = rc.options;
  const eta = new Eta({ views: VIEWS, cache: true, autoEscape: true });
  const css = fs.readFileSync(path.join(VIEWS, 'app.css'), 'utf8');
  const panels = new PanelRegistry(rc.container, rc.logger);
  const audienceOf = (u: UserRow): 'merchant' | 'operator' => (u.role === 'operator' ? 'operator' : 'merchant');

  const secure = (ctx: Context) => ctx.secure || (rc.config.publicUrl ?? '').startsWith('https:');
  const setCookie = (ctx: Context, name: string, value: string, maxAge: number, httpOnly = true) => {
    ctx.append('Set-Cookie', `${name}=${value}; Path=/dashboard; Max-Age=${maxAge}; SameSite=Lax${httpOnly ? '; HttpOnly' : ''}${secure(ctx) ? '; Secure' : ''}`);
  };
  const money = (amount: number | string, currency: string) => `${toMajorString(Number(amount), currency)} ${currency}`;

  async function prepare(ctx: Context): Promise<Req> {
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'same-origin');
    ctx.set('Content-Security-Policy', "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    const session = await sessions.find(ctx.cookies.get(COOKIE));
    const user = session?.user_id ? ((await db<UserRow>('dashboard_users').where({ id: session.user_id }).first()) ?? null) : null;
    let lang: Lang = o.defaultLang;
    const ql = q(ctx, 'lang');
    const cl = ctx.cookies.get(LANG_COOKIE);
    if ((LANGS as string[]).includes(ql)) {
      lang = ql as Lang;
      setCookie(ctx, LANG_COOKIE, lang, 365 * 86400, false);
    } else if (cl && (LANGS as string[]).includes(cl)) lang = cl as Lang;
    else if (user && (LANGS as string[]).includes(user.lang)) lang = user.lang as Lang;
    else lang = (ctx.acceptsLanguages('en', 'ru') as Lang | false) || o.defaultLang;
    const merchant = user?.merchant_id ? await merchants.get(user.merchant_id) : null;
    return { ctx, lang, t: translator(lang), session, user, merchant, body: formBody(ctx) };
  }

  async function csrfOf(r: Req): Promise<string> {
    if (r.session) return r.session.csrf_token;
    const s = await sessions.create(null);
    setCookie(r.ctx, COOKIE, s.cookie, o.sessionHours * 3600);
    r.session = { id_hash: '', user_id: null, csrf_token: s.csrf, created_at: '', expires_at: '', revoked_at: null };
    return s.csrf;
  }

  async function render(r: Req, view: string, data: Record<string, unknown> = {}, status = 200) {
    const csrf = await csrfOf(r);
    const m = r.merchant;
    const html = eta.render(view, {
      t: r.t, lang: r.lang, user: r.user, merchant: m, csrf, path: r.ctx.path, money, o,
      role: r.user?.role ?? null, canAct: r.user ? ['owner', 'staff'].includes(r.user.role) : false, isOwner: r.user?.role === 'owner',
      qs: (extra: Record<string, string>) => new URLSearchParams({ ...(r.ctx.query as Record<string, string>), ...extra }).toString(),
      panels: r.user && !r.user.must_change_password ? panels.forAudience(audienceOf(r.user), r.lang) : [],
      ...data,
    });
    r.ctx.status = status;
    r.ctx.type = 'text/html; charset=utf-8';
    r.ctx.body = html;
  }

  function route(method: 'get' | 'post', p: string, auth: Auth, roles: readonly Role[] | null, fn: (r: Req) => Promise<void>) {
    router[method](p, async (ctx) => {
      const r = await prepare(ctx);
      try {
        if (method === 'post') {
          const token = r.body._csrf ?? '';
          if (!r.session || !token || !safeEqual(token, r.session.csrf_token)) throw new PageError(403, 'csrf_failed');
        }
        if (auth !== 'none') {
          if (!r.user) {
            if (method === 'get') return ctx.redirect(`/dashboard/login?next=${encodeURIComponent(ctx.originalUrl)}`);
            throw new PageError(401, 'login_title');
          }
          if (r.user.must_change_password && p !== '/dashboard/password' && p !== '/dashboard/logout') return ctx.redirect('/dashboard/password');
          if (auth === 'merchant' && !r.user.merchant_id) {
            if (method === 'get' && r.user.role === 'operator') return ctx.redirect('/dashboard/operator');
            throw new PageError(403, 'forbidden');
          }
          if (auth === 'operator' && r.user.role !== 'operator') throw new PageError(404, 'not_found');
          if (roles && !roles.includes(r.user.role)) throw new PageError(403, 'forbidden');
        }
        await fn(r);
      } catch (e) {
        if (e instanceof PageError) return render(r, 'error', { status: e.status, message: r.t(e.key) }, e.status);
        if (e instanceof PayhubError && e.status < 500) {
          const status = e.status === 404 ? 404 : e.status;
          return render(r, 'error', { status, message: status === 404 ? r.t('not_found') : e.message, fields: e.fields }, status);
        }
        rc.logger.error({ err: (e as Error).message, path: p }, 'dashboard page failed');
        return render(r, 'error', { status: 500, message: r.t('error') }, 500);
      }
    });
  }

  const back = (r: Req, to: string, flash: { ok?: string; err?: string }) => {
    const u = new URL(to, 'http://x');
    if (flash.ok) u.searchParams.set('ok', flash.ok);
    if (flash.err) u.searchParams.set('err', flash.err.slice(0, 300));
    r.ctx.redirect(u.pathname + u.search);
  };
  const errText = (e: unknown) => (e instanceof PayhubError && e.expose ? (e.fields.length ? `${e.message}: ${e.fields.map((f) => `${f.field} ${f.message}`).join('; ')}` : e.message) : null);
  const actorOf = (r: Req) => `${r.user!.role === 'operator' ? 'operator' : 'merchant'}:${r.user!.email}`;

  router.get('/dashboard/assets/app.css', (ctx) => {
    ctx.type = 'text/css';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = css;
  });

  route('get', '/dashboard', 'user', null, async (r) => {
    r.ctx.redirect(r.user!.role === 'operator' ? '/dashboard/operator' : '/dashboard/overview');
  });

  // ---- Sign in, sign out, passwords ----
  route('get', '/dashboard/login', 'none', null, async (r) => {
    await render(r, 'login', { next: q(r.ctx, 'next'), error: null, email: '' });
  });

  route('post', '/dashboard/login', 'none', null, async (r) => {
    const email = (r.body.email ?? '').trim().toLowerCase().slice(0, 254);
    const password = r.body.password ?? '';
    const ip = r.ctx.ip || 'unknown';
    const win = o.loginWindowMinutes * 60_000;
    if ((await throttle.count('login_email', email, win)) >= o.loginMaxFailures || (await throttle.count('login_ip', ip, win)) >= o.loginMaxFailures * 4) {
      r.ctx.set('Retry-After', String(o.loginWindowMinutes * 60));
      return render(r, 'login', { next: '', error: r.t('login_throttled'), email }, 429);
    }
    const user = email ? await db<UserRow>('dashboard_users').where({ email }).first() : undefined;
    const ok = await verifyPassword(password, user?.password_hash ?? null);
    if (!user || !ok) {
      await throttle.hit('login_email', email);
      await throttle.hit('login_ip', ip);
      await payments.audit({ merchantId: user?.merchant_id ?? undefined, actor: 'dashboard', action: 'dashboard.login_failed' });
      return render(r, 'login', { next: '', error: r.t('login_failed'), email }, 401);
    }
    await throttle.clear('login_email', email);
    const old = r.ctx.cookies.get(COOKIE);
    if (old) await sessions.revoke(old);
    const s = await sessions.create(user.id);
    setCookie(r.ctx, COOKIE, s.cookie, o.sessionHours * 3600);
    await payments.audit({ merchantId: user.merchant_id ?? undefined, actor: `${user.role}:${user.email}`, action: 'dashboard.login' });
    const next = r.body.next ?? '';
    r.ctx.redirect(user.must_change_password ? '/dashboard/password' : /^\/dashboard(\/[A-Za-z0-9/_?=&.%-]*)?$/.test(next) && !next.startsWith('//') ? next : '/dashboard');
  });

  route('post', '/dashboard/logout', 'none', null, async (r) => {
    const c = r.ctx.cookies.get(COOKIE);
    if (c) await sessions.revoke(c);
    setCookie(r.ctx, COOKIE, '', 0);
    r.ctx.redirect('/dashboard/login');
  });

  route('post', '/dashboard/logout-all', 'user', null, async (r) => {
    await sessions.revokeAll(r.user!.id);
    await payments.audit({ merchantId: r.user!.merchant_id ?? undefined, actor: actorOf(r), action: 'dashboard.logout_everywhere' });
    setCookie(r.ctx, COOKIE, '', 0);
    r.ctx.redirect('/dashboard/login');
  });

  route('get', '/dashboard/password', 'user', null, async (r) => {
    await render(r, 'password', { mode: 'change', error: null, ok: q(r.ctx, 'ok') });
  });

  route('post', '/dashboard/password', 'user', null, async (r) => {
    const u = r.user!;
    const pw = r.body.password ?? '';
    let error: string | null = null;
    if (!(await verifyPassword(r.body.current ?? '', u.password_hash))) error = 'password_wrong';
    else if (passwordProblem(pw)) error = passwordProblem(pw);
    else if (pw !== r.body.password2) error = 'password_mismatch';
    if (error) return render(r, 'password', { mode: 'change', error: r.t(error), ok: '' }, 422);
    await db('dashboard_users').where({ id: u.id }).update({ password_hash: await hashPassword(pw), must_change_password: false, updated_at: clock.now().toISOString() });
    await sessions.revokeAll(u.id);
    const s = await sessions.create(u.id);
    setCookie(r.ctx, COOKIE, s.cookie, o.sessionHours * 3600);
    await payments.audit({ merchantId: u.merchant_id ?? undefined, actor: actorOf(r), action: 'dashboard.password_changed' });
    r.ctx.redirect('/dashboard/password?ok=1');
  });

  route('get', '/dashboard/password/set', 'none', null, async (r) => {
    const token = q(r.ctx, 'token');
    if (!(await peekToken(db, clock, token, 'set_password'))) throw new PageError(400, 'token_invalid');
    await render(r, 'password', { mode: 'set', token, error: null, ok: '' });
  });

  route('post', '/dashboard/password/set', 'none', null, async (r) => {
    const token = r.body.token ?? '';
    const pw = r.body.password ?? '';
    const problem = passwordProblem(pw) ?? (pw !== r.body.password2 ? 'password_mismatch' : null);
    if (problem) return render(r, 'password', { mode: 'set', token, error: r.t(problem), ok: '' }, 422);
    const userId = await useToken(db, clock, token, 'set_password');
    if (!userId) throw new PageError(400, 'token_invalid');
    await db('dashboard_users').where({ id: userId }).update({ password_hash: await hashPassword(pw), must_change_password: false, updated_at: clock.now().toISOString() });
    await sessions.revokeAll(userId);
    r.ctx.redirect('/dashboard/login?ok=password');
  });

  // ---- Sign-up (public application) ----
  route('get', '/dashboard/signup', 'none', null, async (r) => {
    await render(r, 'signup', { v: {}, errors: [], error: null });
  });

  route('post', '/dashboard/signup', 'none', null, async (r) => {
    const b = r.body;
    const v = { shop_name: b.shop_name ?? '', site_url: b.site_url ?? '', contact_email: b.contact_email ?? '', legal_name: b.legal_name ?? '', tax_id: b.tax_id ?? '', legal_address: b.legal_address ?? '' };
    const ip = r.ctx.ip || 'unknown';
    if ((await throttle.count('application_ip', ip, 3600_000)) >= o.applicationsPerHour) return render(r, 'signup', { v, errors: [], error: r.t('login_throttled') }, 429);
    const problem = passwordProblem(b.password) ?? (b.password !== b.password2 ? 'password_mismatch' : null);
    if (problem) return render(r, 'signup', { v, errors: [{ field: 'password', message: r.t(problem) }], error: null }, 422);
    await throttle.hit('application_ip', ip);
    try {
      const res = await ob.apply({
        shop_name: v.shop_name, site_url: v.site_url, contact_email: v.contact_email, lang: r.lang,
        legal: { name: v.legal_name, tax_id: v.tax_id, address: v.legal_address },
      }, { password: b.password });
      await render(r, 'signup-done', { keys: res.keys, expires: res.testExpiresAt, email: res.application.contact_email }, 201);
    } catch (e) {
      if (e instanceof PayhubError && e.status < 500) return render(r, 'signup', { v, errors: e.fields, error: e.message }, e.status);
      throw e;
    }
  });

  // ---- Merchant pages ----
  route('get', '/dashboard/overview', 'merchant', null, async (r) => {
    const mid = r.user!.merchant_id!;
    const cur = r.merchant!.currencies[0] ?? 'RUB';
    const days: string[] = [];
    const today = clock.now();
    for (let i = 13; i >= 0; i--) days.push(new Date(today.getTime() - i * 86400_000).toISOString().slice(0, 10));
    const since = `${days[0]}T00:00:00.000Z`;
    const orders = await db('orders').where({ merchant_id: mid, currency: cur }).where('created_at', '>=', since).select('created_at', 'amount_captured');
    const attempts = await db('payment_attempts').where({ merchant_id: mid }).where('created_at', '>=', since).select('created_at', 'status');
    const vol = new Map<string, number>(), appr = new Map<string, [number, number]>();
    for (const x of orders as Array<{ created_at: string; amount_captured: unknown }>) vol.set(x.created_at.slice(0, 10), (vol.get(x.created_at.slice(0, 10)) ?? 0) + Number(x.amount_captured));
    for (const a of attempts as Array<{ created_at: string; status: string }>) {
      if (!['authorized', 'captured', 'declined', 'failed'].includes(a.status)) continue;
      const d = a.created_at.slice(0, 10);
      const cell = appr.get(d) ?? [0, 0];
      cell[1]++;
      if (a.status === 'authorized' || a.status === 'captured') cell[0]++;
      appr.set(d, cell);
    }
    const label = (d: string) => d.slice(8, 10) + '.' + d.slice(5, 7);
    const volBars: Bar[] = days.map((d) => ({ label: label(d), value: vol.get(d) ?? 0, display: money(vol.get(d) ?? 0, cur) }));
    const apprBars: Bar[] = days.map((d) => {
      const c = appr.get(d);
      return { label: label(d), value: c ? Math.round((100 * c[0]) / c[1]) : null, display: c ? `${Math.round((100 * c[0]) / c[1])}% (${c[0]}/${c[1]})` : '—' };
    });
    await render(r, 'overview', {
      volume: barChart({ id: 'vol', title: r.t('volume_chart'), bars: volBars, empty: r.t('no_data') }),
      approval: barChart({ id: 'appr', title: r.t('approval_chart'), bars: apprBars, max: 100, color: '#2f855a', empty: r.t('no_data') }),
      balances: await balancesOf(mid), state: await ob.state(mid),
    });
  });

  async function balancesOf(mid: string) {
    const rows = await db('ledger_entries').where({ merchant_id: mid }).whereIn('account', [`merchant:${mid}:pending`, `merchant:${mid}:available`])
      .select('currency', 'account').sum({ cr: 'credit' }).sum({ dr: 'debit' }).groupBy('currency', 'account');
    const out = new Map<string, { currency: string; pending: number; available: number }>();
    for (const x of rows as Array<{ currency: string; account: string; cr: unknown; dr: unknown }>) {
      const b = out.get(x.currency) ?? { currency: x.currency, pending: 0, available: 0 };
      if (x.account.endsWith(':pending')) b.pending += Number(x.cr) - Number(x.dr);
      else b.available += Number(x.cr) - Number(x.dr);
      out.set(x.currency, b);
    }
    return [...out.values()];
  }

  function filters(r: Req) {
    const f = {
      status: q(r.ctx, 'status'), method: q(r.ctx, 'method'), from: q(r.ctx, 'from'), to: q(r.ctx, 'to'),
      amount_min: q(r.ctx, 'amount_min'), amount_max: q(r.ctx, 'amount_max'), order_number: q(r.ctx, 'order_number'), last4: q(r.ctx, 'last4'),
    };
    const mid = r.user!.merchant_id!;
    const cur = r.merchant!.currencies[0] ?? 'RUB';
    const errors: string[] = [];
    let qb = db('orders').where({ 'orders.merchant_id': mid });
    if (f.status) {
      if ((ORDER_STATUSES as readonly string[]).includes(f.status)) qb = qb.where('orders.status', f.status);
      else errors.push('status');
    }
    const day = /^\d{4}-\d{2}-\d{2}$/;
    if (f.from) {
      if (day.test(f.from)) qb = qb.where('orders.created_at', '>=', `${f.from}T00:00:00.000Z`);
      else errors.push('from');
    }
    if (f.to) {
      if (day.test(f.to) && !Number.isNaN(Date.parse(f.to))) qb = qb.where('orders.created_at', '<', new Date(Date.parse(f.to) + 86400_000).toISOString());
      else errors.push('to');
    }
    for (const [k, op] of [['amount_min', '>='], ['amount_max', '<=']] as const) {
      if (!f[k]) continue;
      try {
        qb = qb.where('orders.amount', op, fromMajorString(f[k].replace(',', '.'), cur));
      } catch {
        errors.push(k);
      }
    }
    if (f.order_number) qb = qb.where('orders.order_number', 'like', `%${f.order_number.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    if (f.method) {
      if (/^[a-z0-9_-]{1,40}$/.test(f.method)) qb = qb.whereExists(function sub() { this.select(db.raw('1')).from('payment_attempts').whereRaw('payment_attempts.order_id = orders.id').andWhere('payment_attempts.method', f.method); });
      else errors.push('method');
    }
    if (f.last4) {
      if (/^\d{4}$/.test(f.last4)) qb = qb.whereExists(function sub() { this.select(db.raw('1')).from('payment_attempts').whereRaw('payment_attempts.order_id = orders.id').andWhere('payment_attempts.method_data', 'like', `%"last4":"${f.last4}"%`); });
      else errors.push('last4');
    }
    return { f, qb, errors };
  }

  async function withAttempts(rows: Array<Record<string, any>>): Promise<Array<Record<string, any>>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const ids = rows.map((x) => x.id as string);
    const atts = ids.length ? await db('payment_attempts').whereIn('order_id', ids).orderBy('created_at', 'asc').select('order_id', 'method', 'method_data') : [];
    const last = new Map<string, { method: string; card: string }>();
    for (const a of atts as Array<{ order_id: string; method: string; method_data: string }>) {
      let md: Record<string, unknown> = {};
      try {
        md = JSON.parse(a.method_data || '{}');
      } catch { /* keep empty */ }
      last.set(a.order_id, { method: a.method, card: typeof md.masked === 'string' ? md.masked : '' });
    }
    return rows.map((x) => ({ ...x, method: last.get(x.id as string)?.method ?? '', card: last.get(x.id as string)?.card ?? '' }));
  }

  const PAGE = 50;
  route('get', '/dashboard/transactions', 'merchant', null, async (r) => {
    const { f, qb, errors } = filters(r);
    const page = Math.max(1, Math.min(10_000, Number.parseInt(q(r.ctx, 'page') || '1', 10) || 1));
    const rows = await qb.clone().select('orders.*').orderBy([{ column: 'orders.created_at', order: 'desc' }, { column: 'orders.id', order: 'desc' }]).limit(PAGE + 1).offset((page - 1) * PAGE);
    const methods = (rc.container.isRegistered(TOKENS.PaymentMethod, true) ? rc.container.resolveAll(TOKENS.PaymentMethod) : []).map((m) => m.id);
    await render(r, 'transactions', { f, errors, rows: await withAttempts(rows.slice(0, PAGE)), hasMore: rows.length > PAGE, page, statuses: ORDER_STATUSES, methods });
  });

  route('get', '/dashboard/transactions.csv', 'merchant', null, async (r) => {
    const { qb, errors } = filters(r);
    if (errors.length) throw new PayhubError('invalid_filter', `Invalid filter: ${errors.join(', ')}`, { status: 422 });
    const rows = await withAttempts(await qb.select('orders.*').orderBy('orders.created_at', 'desc').limit(10_000));
    const cell = (v: unknown) => {
      let s = v === null || v === undefined ? '' : String(v);
      if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
      return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    const lines = [['id', 'order_number', 'created_at', 'status', 'mode', 'amount', 'currency', 'captured', 'refunded', 'method', 'card'].join(',')];
    for (const x of rows) {
      const c = String(x.currency);
      lines.push([x.id, x.order_number, x.created_at, x.status, x.mode, toMajorString(Number(x.amount), c), c, toMajorString(Number(x.amount_captured), c),
        toMajorString(Number(x.amount_refunded), c), x.method, x.card].map(cell).join(','));
    }
    r.ctx.type = 'text/csv; charset=utf-8';
    r.ctx.set('Content-Disposition', `attachment; filename="transactions-${clock.now().toISOString().slice(0, 10)}.csv"`);
    r.ctx.body = lines.join('\r\n') + '\r\n';
  });

  async function ownOrder(r: Req, id: string) {
    const order = await db('orders').where({ id, merchant_id: r.user!.merchant_id! }).first();
    if (!order) throw new PageError(404, 'not_found');
    return order as Record<string, unknown> & { id: string; currency: string; order_number: string };
  }

  route('get', '/dashboard/orders/:id', 'merchant', null, async (r) => {
    const order = await ownOrder(r, r.ctx.params.id!);
    const attempts = (await db('payment_attempts').where({ order_id: order.id }).orderBy('created_at', 'asc')).map((a: Record<string, unknown> & { id: string }) => {
      let md: Record<string, unknown> = {};
      try {
        md = JSON.parse(String(a.method_data || '{}'));
      } catch { /* keep empty */ }
      return { ...a, card: typeof md.masked === 'string' ? md.masked : '', brand: typeof md.brand === 'string' ? md.brand : '' };
    });
    const refunds = await db('refunds').where({ order_id: order.id }).orderBy('created_at', 'asc');
    const ids = [order.id, ...attempts.map((a) => a.id as string), ...refunds.map((x: { id: string }) => x.id)];
    const timeline = await db('transitions').whereIn('entity_id', ids).orderBy([{ column: 'at', order: 'asc' }, { column: 'id', order: 'asc' }]);
    const deliveries = await db('webhook_deliveries').join('events', 'events.id', 'webhook_deliveries.event_id')
      .where('webhook_deliveries.merchant_id', r.user!.merchant_id!).whereIn('events.entity_id', ids)
      .select('webhook_deliveries.id', 'webhook_deliveries.url', 'webhook_deliveries.status', 'webhook_deliveries.attempts', 'webhook_deliveries.last_status_code',
        'webhook_deliveries.created_at', 'events.type').orderBy('webhook_deliveries.created_at', 'asc');
    await render(r, 'order', { order, attempts, refunds, timeline, deliveries, ok: q(r.ctx, 'ok'), err: q(r.ctx, 'err') });
  });

  route('post', '/dashboard/orders/:id/action', 'merchant', ['owner', 'staff'], async (r) => {
    const order = await ownOrder(r, r.ctx.params.id!);
    const action = r.body.action;
    if (action !== 'capture' && action !== 'cancel' && action !== 'refund') throw new PageError(400, 'error');
    let amount: number | undefined;
    const where = `/dashboard/orders/${order.id}`;
    if (r.body.amount) {
      try {
        amount = fromMajorString(r.body.amount.replace(',', '.'), order.currency);
      } catch {
        return back(r, where, { err: `amount: ${r.t('error')}` });
      }
    }
    if (r.body.confirm !== '1') {
      const amt = amount ?? (action === 'refund' ? Number(order.amount_captured) - Number(order.amount_refunded) : Number(order.amount_authorized) || Number(order.amount));
      return render(r, 'confirm', { order, action, amountText: money(amt, order.currency), amount: r.body.amount ?? '', reason: r.body.reason ?? '' });
    }
    const mid = r.user!.merchant_id!;
    try {
      if (action === 'capture') await payments.capture(mid, order.id, amount);
      else if (action === 'cancel') await payments.cancel(mid, order.id);
      else await payments.refund(mid, order.id, { ...(amount !== undefined ? { amount } : {}), ...(r.body.reason ? { reason: r.body.reason.slice(0, 200) } : {}) });
    } catch (e) {
      const t = errText(e);
      if (t === null) throw e;
      return back(r, where, { err: t });
    }
    await payments.audit({ merchantId: mid, actor: actorOf(r), action: `dashboard.order_${action}`, data: { order_id: order.id, amount: amount ?? null } });
    back(r, where, { ok: action });
  });

  async function resend(merchantId: string | null, deliveryId: string): Promise<void> {
    // PaymentsService has no webhook re-send yet; the core is asked to add retryWebhookDelivery (see README).
    const p = payments as unknown as { retryWebhookDelivery?: (m: string | null, id: string) => Promise<unknown> };
    if (typeof p.retryWebhookDelivery !== 'function') throw new PayhubError('resend_unavailable', 'Re-sending webhooks needs a newer core (PaymentsService.retryWebhookDelivery)', { status: 501 });
    await p.retryWebhookDelivery(merchantId, deliveryId);
  }

  route('post', '/dashboard/orders/:id/deliveries/:did/resend', 'merchant', ['owner', 'staff'], async (r) => {
    const order = await ownOrder(r, r.ctx.params.id!);
    const d = await db('webhook_deliveries').where({ id: r.ctx.params.did, merchant_id: r.user!.merchant_id! }).first();
    if (!d) throw new PageError(404, 'not_found');
    try {
      await resend(r.user!.merchant_id!, d.id);
    } catch (e) {
      return back(r, `/dashboard/orders/${order.id}`, { err: errText(e) ?? r.t('error') });
    }
    back(r, `/dashboard/orders/${order.id}`, { ok: 'resend' });
  });

  route('get', '/dashboard/balance', 'merchant', null, async (r) => {
    const mid = r.user!.merchant_id!;
    const entries = await db('ledger_entries').where({ merchant_id: mid }).orderBy('id', 'desc').limit(200);
    await render(r, 'balance', { balances: await balancesOf(mid), entries });
  });

  route('get', '/dashboard/settings', 'merchant', null, async (r) => {
    const keys = await merchants.listKeys(r.user!.merchant_id!);
    await render(r, 'settings', { keys, ok: q(r.ctx, 'ok'), err: q(r.ctx, 'err') });
  });

  route('post', '/dashboard/settings/roll-key', 'merchant', ['owner'], async (r) => {
    const mode = r.body.mode === 'live' ? 'live' : 'test';
    if (r.body.confirm !== '1') return back(r, '/dashboard/settings', { err: r.t('roll_confirm') });
    if (mode !== r.merchant!.mode) throw new PageError(409, 'forbidden');
    const key = await merchants.rollKey(r.user!.merchant_id!, mode, actorOf(r));
    await render(r, 'secret', { title: r.t(mode === 'live' ? 'live_key' : 'test_key'), secret: key, next: '/dashboard/settings' });
  });

  route('post', '/dashboard/settings/webhook', 'merchant', ['owner'], async (r) => {
    try {
      await merchants.update(r.user!.merchant_id!, { notifyUrl: r.body.notify_url ? r.body.notify_url : null }, actorOf(r));
    } catch (e) {
      return back(r, '/dashboard/settings', { err: errText(e) ?? r.t('error') });
    }
    back(r, '/dashboard/settings', { ok: 'saved' });
  });

  route('post', '/dashboard/settings/roll-webhook-secret', 'merchant', ['owner'], async (r) => {
    if (r.body.confirm !== '1') return back(r, '/dashboard/settings', { err: r.t('roll_confirm') });
    const secret = await merchants.rollWebhookSecret(r.user!.merchant_id!, actorOf(r));
    await render(r, 'secret', { title: r.t('webhook_secret'), secret, next: '/dashboard/settings' });
  });

  route('get', '/dashboard/team', 'merchant', null, async (r) => {
    const members = await db<UserRow>('dashboard_users').where({ merchant_id: r.user!.merchant_id! }).orderBy('created_at', 'asc');
    await render(r, 'team', { members, roles: MERCHANT_ROLES, ok: q(r.ctx, 'ok'), err: q(r.ctx, 'err') });
  });

  route('post', '/dashboard/team/add', 'merchant', ['owner'], async (r) => {
    const email = (r.body.email ?? '').trim().toLowerCase();
    const role = r.body.role as Role;
    if (!/^[^\s@]{1,64}@[^\s@]{1,190}$/.test(email) || !MERCHANT_ROLES.includes(role)) return back(r, '/dashboard/team', { err: `${r.t('email')} / ${r.t('role')}` });
    if (await db('dashboard_users').where({ email }).first()) return back(r, '/dashboard/team', { err: 'email_taken' });
    const u = await createUser(db, clock, { email, name: (r.body.name ?? '').slice(0, 200), role, merchantId: r.user!.merchant_id!, lang: r.lang });
    const token = await issueToken(db, clock, u.id, 'set_password', 72);
    await ob.mail(r.user!.merchant_id!, email, 'invite', r.lang, { shop: r.merchant!.name, role: r.t(`role_${role}`), link: ob.link(`/dashboard/password/set?token=${token}`) });
    await payments.audit({ merchantId: r.user!.merchant_id!, actor: actorOf(r), action: 'dashboard.member_added', data: { user_id: u.id, role } });
    back(r, '/dashboard/team', { ok: 'added' });
  });

  async function member(r: Req) {
    const m = await db<UserRow>('dashboard_users').where({ id: r.ctx.params.uid, merchant_id: r.user!.merchant_id! }).first();
    if (!m) throw new PageError(404, 'not_found');
    if (m.id === r.user!.id) throw new PageError(409, 'forbidden');
    return m;
  }

  route('post', '/dashboard/team/:uid/role', 'merchant', ['owner'], async (r) => {
    const m = await member(r);
    const role = r.body.role as Role;
    if (!MERCHANT_ROLES.includes(role)) throw new PageError(400, 'error');
    await db('dashboard_users').where({ id: m.id }).update({ role, updated_at: clock.now().toISOString() });
    await payments.audit({ merchantId: m.merchant_id!, actor: actorOf(r), action: 'dashboard.member_role_changed', data: { user_id: m.id, role } });
    back(r, '/dashboard/team', { ok: 'saved' });
  });

  route('post', '/dashboard/team/:uid/remove', 'merchant', ['owner'], async (r) => {
    const m = await member(r);
    await sessions.revokeAll(m.id);
    await db('dashboard_tokens').where({ user_id: m.id }).del();
    await db('dashboard_users').where({ id: m.id }).del();
    await payments.audit({ merchantId: m.merchant_id!, actor: actorOf(r), action: 'dashboard.member_removed', data: { user_id: m.id } });
    back(r, '/dashboard/team', { ok: 'removed' });
  });

  route('get', '/dashboard/onboarding', 'merchant', null, async (r) => {
    const mid = r.user!.merchant_id!;
    await render(r, 'onboarding', { state: await ob.state(mid), banks: ob.banks(), events: await ob.events(mid), ok: q(r.ctx, 'ok'), err: q(r.ctx, 'err') });
  });

  const step = (name: string, fn: (r: Req) => Promise<unknown>) => route('post', `/dashboard/onboarding/${name}`, 'merchant', ['owner'], async (r) => {
    try {
      await fn(r);
    } catch (e) {
      return back(r, '/dashboard/onboarding', { err: errText(e) ?? r.t('error') });
    }
    back(r, '/dashboard/onboarding', { ok: name });
  });
  step('register', (r) => ob.register(r.user!.merchant_id!, { legal: { name: r.body.legal_name, tax_id: r.body.tax_id, address: r.body.legal_address } }, actorOf(r)));
  step('bank', (r) => {
    const details: Record<string, string> = {};
    for (const k of ['bank_account', 'bic', 'contact_phone']) if (r.body[k]) details[k] = r.body[k]!;
    return ob.chooseBank(r.user!.merchant_id!, { bank_id: r.body.bank_id, details }, actorOf(r));
  });
  step('production', (r) => ob.requestProduction(r.user!.merchant_id!, actorOf(r)));

  // ---- Panels of other plugins (TOKENS.DashboardPanel): merchant panels for merchant users, operator panels for the operator ----
  const panelAudience = (r: Req): 'merchant' | 'operator' => {
    const audience = audienceOf(r.user!);
    if (audience === 'merchant' && !r.user!.merchant_id) throw new PageError(403, 'forbidden');
    return audience;
  };

  route('get', '/dashboard/panels', 'user', null, async (r) => {
    await render(r, 'panels', { list: panels.forAudience(panelAudience(r), r.lang) });
  });

  route('get', '/dashboard/panels/:id', 'user', null, async (r) => {
    const audience = panelAudience(r);
    const panel = panels.find(r.ctx.params.id ?? '', audience);
    if (!panel) throw new PageError(404, 'not_found');
    const query = panelQuery(r.ctx.query as Record<string, unknown>);
    // A merchant panel is scoped to the signed-in user's merchant, never to anything in the URL.
    const merchantId = audience === 'merchant' ? r.user!.merchant_id! : null;
    let loaded;
    try {
      loaded = await panel.load({ merchantId, lang: r.lang, query, limit: PANEL_LIMIT });
    } catch (e) {
      if (e instanceof PayhubError && e.status < 500) throw e;
      rc.logger.error({ err: (e as Error).message, panel: panel.id }, 'dashboard panel failed');
      throw new PageError(500, 'error');
    }
    const data = normalizePanelData(loaded, PANEL_LIMIT);
    await render(r, 'panel', { panel: { id: panel.id, title: titleOf(panel, r.lang) }, data, query });
  });

  // ---- Operator pages ----
  route('get', '/dashboard/operator', 'operator', null, async (r) => {
    const list = await merchants.list({ limit: 500 });
    const apps = await db('dashboard_applications').select('merchant_id', 'status', 'contact_email', 'production_requested_at');
    const byM = new Map(apps.map((a: { merchant_id: string }) => [a.merchant_id, a]));
    await render(r, 'operator', { list: list.map((m) => ({ m, app: byM.get(m.id) ?? null })), now: clock.now().toISOString() });
  });

  route('get', '/dashboard/operator/merchants/:id', 'operator', null, async (r) => {
    const id = r.ctx.params.id!;
    const state = await ob.state(id).catch(() => null);
    if (!state) throw new PageError(404, 'not_found');
    const banks = ob.banks();
    const bankId = q(r.ctx, 'bank') || state.contract?.bank_id || state.application?.bank_id || banks[0]?.id || '';
    await render(r, 'operator-merchant', { state, banks, bank: banks.find((b) => b.id === bankId) ?? null, events: await ob.events(id), ok: q(r.ctx, 'ok'), err: q(r.ctx, 'err') });
  });

  const opStep = (name: string, fn: (r: Req, id: string) => Promise<void>) => route('post', `/dashboard/operator/merchants/:id/${name}`, 'operator', null, async (r) => {
    const id = r.ctx.params.id!;
    if (!(await merchants.get(id))) throw new PageError(404, 'not_found');
    try {
      await fn(r, id);
    } catch (e) {
      return back(r, `/dashboard/operator/merchants/${id}`, { err: errText(e) ?? r.t('error') });
    }
    if (r.ctx.status !== 200 || !r.ctx.body) back(r, `/dashboard/operator/merchants/${id}`, { ok: name });
  });
  opStep('contract', async (r, id) => {
    const bank = ob.bank(r.body.bank_id ?? '');
    const credentials: Record<string, string> = {};
    for (const f of bank?.contract?.fields ?? []) if (f.name !== 'merchantId' && f.name !== 'terminalId' && r.body[`cred_${f.name}`]) credentials[f.name] = r.body[`cred_${f.name}`]!;
    await ob.recordContract(id, { bank_id: r.body.bank_id, bank_merchant_id: r.body.bank_merchant_id, terminal_id: r.body.terminal_id, credentials }, actorOf(r));
  });
  opStep('check', async (r, id) => {
    await ob.checkConnection(id, actorOf(r));
  });
  opStep('production', async (r, id) => {
    if (r.body.confirm !== '1') throw new PayhubError('confirm_required', r.t('switch_confirm'), { status: 422 });
    const res = await ob.approve(id, actorOf(r));
    if (res.live_secret_key) await render(r, 'secret', { title: r.t('live_key'), secret: res.live_secret_key, next: `/dashboard/operator/merchants/${id}` });
  });

  route('get', '/dashboard/operator/plugins', 'operator', null, async (r) => {
    const plugins = rc.config.plugins.map((p) => {
      let version = '?';
      let name = p.resolve;
      try {
        const base = p.resolve.startsWith('.') || path.isAbsolute(p.resolve) ? path.resolve(rc.config.rootDir, p.resolve) : p.resolve;
        const pkg = JSON.parse(fs.readFileSync(require.resolve(path.join(base, 'package.json'), { paths: [rc.config.rootDir] }), 'utf8'));
        version = pkg.version ?? '?';
        name = pkg.name ?? name;
      } catch { /* not resolvable from here */ }
      return { resolve: p.resolve, enabled: p.enabled, name, version };
    });
    let database = 'ok';
    try {
      await db.raw('select 1');
    } catch {
      database = 'failed';
    }
    const count = async (status: string) => Number(((await db('webhook_deliveries').where({ status }).count({ n: '*' }).first()) as { n?: unknown } | undefined)?.n ?? 0);
    const methods = rc.container.isRegistered(TOKENS.PaymentMethod, true) ? rc.container.resolveAll(TOKENS.PaymentMethod).map((m) => m.id) : [];
    const banks = [];
    for (const b of ob.banks()) {
      let status = 'n/a';
      if (b.checkConnection) {
        try {
          status = (await Promise.race([b.checkConnection({}), new Promise<{ ok: boolean }>((res) => setTimeout(() => res({ ok: false }), 3000).unref())])).ok ? 'ok' : 'failed';
        } catch {
          status = 'failed';
        }
      }
      banks.push({ id: b.id, name: b.displayName, status });
    }
    await render(r, 'operator-plugins', {
      plugins, database, methods, banks, workers: rc.config.workers.enabled, pending: await count('pending'), dead: await count('dead'),
    });
  });

  route('get', '/dashboard/operator/webhooks', 'operator', null, async (r) => {
    const rows = await db('webhook_deliveries').leftJoin('merchants', 'merchants.id', 'webhook_deliveries.merchant_id').where('webhook_deliveries.status', 'dead')
      .select('webhook_deliveries.id', 'webhook_deliveries.url', 'webhook_deliveries.attempts', 'webhook_deliveries.last_status_code', 'webhook_deliveries.last_error',
        'webhook_deliveries.updated_at', 'webhook_deliveries.merchant_id', 'merchants.name as merchant_name').orderBy('webhook_deliveries.updated_at', 'desc').limit(200);
    await render(r, 'operator-webhooks', { rows, ok: q(r.ctx, 'ok'), err: q(r.ctx, 'err') });
  });

  route('post', '/dashboard/operator/webhooks/:did/resend', 'operator', null, async (r) => {
    const d = await db('webhook_deliveries').where({ id: r.ctx.params.did }).first();
    if (!d) throw new PageError(404, 'not_found');
    try {
      await resend(d.merchant_id, d.id);
    } catch (e) {
      return back(r, '/dashboard/operator/webhooks', { err: errText(e) ?? r.t('error') });
    }
    back(r, '/dashboard/operator/webhooks', { ok: 'resend' });
  });
}
