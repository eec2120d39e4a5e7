import type Router from '@koa/router';
import type { Context } from 'koa';
import { PayhubError, badRequest, notFound, type RouteContext } from '@payhub/core';
import type { Onboarding } from './onboarding';
import type { Throttle } from './auth';
import type { DashboardOptions } from './options';

function body(ctx: Context): Record<string, unknown> {
  const b = (ctx.request as { body?: unknown }).body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw badRequest('invalid_body', 'The request body must be a JSON object');
  return b as Record<string, unknown>;
}

/** The onboarding JSON API: public application, merchant steps (API key), operator steps (admin token). */
export function mountApi(router: Router, rc: RouteContext<DashboardOptions>, ob: Onboarding, throttle: Throttle): void {
  router.post('/v1/applications', async (ctx) => {
    const ip = ctx.ip || 'unknown';
    if ((await throttle.count('application_ip', ip, 3600_000)) >= rc.options.applicationsPerHour) {
      ctx.set('Retry-After', '3600');
      throw new PayhubError('rate_limited', 'Too many applications from this address; try again later', { status: 429 });
    }
    await throttle.hit('application_ip', ip);
    const b = body(ctx);
    for (const k of Object.keys(b)) if (!['shop_name', 'site_url', 'contact_email', 'legal', 'lang'].includes(k)) throw badRequest('unknown_field', `unknown field ${k}`, [{ field: k, message: 'unknown field' }]);
    const r = await ob.apply(b);
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      id: r.application.id, object: 'application', status: r.application.status, merchant_id: r.keys.id, mode: 'test',
      test_expires_at: r.testExpiresAt, test_secret_key: r.keys.test_secret_key, webhook_secret: r.keys.webhook_secret,
      dashboard_url: ob.link('/dashboard/login'),
    };
  });

  router.get('/v1/banks', (ctx) => {
    ctx.body = {
      object: 'list',
      data: ob.banks().map((b) => ({
        id: b.id, display_name: b.displayName,
        contract: { fields: (b.contract?.fields ?? []).map((f) => ({ name: f.name, label: f.label, required: f.required, secret: Boolean(f.secret) })), documents: b.contract?.documents ?? [] },
      })),
    };
  });

  const own = async (ctx: Context) => {
    const app = await ob.applicationById(ctx.params.id!);
    if (app.merchant_id !== ctx.state.merchant.id) throw notFound('Application', 'application_not_found');
    return app;
  };

  router.get('/v1/onboarding', rc.requireMerchant, async (ctx) => {
    ctx.body = await ob.state(ctx.state.merchant.id);
  });
  router.post('/v1/applications/:id/register', rc.requireMerchant, async (ctx) => {
    const app = await own(ctx);
    ctx.body = await ob.register(app.merchant_id, body(ctx), 'merchant:api');
  });
  router.post('/v1/applications/:id/bank', rc.requireMerchant, async (ctx) => {
    const app = await own(ctx);
    ctx.body = await ob.chooseBank(app.merchant_id, body(ctx), 'merchant:api');
  });
  router.post('/v1/applications/:id/production-request', rc.requireMerchant, async (ctx) => {
    const app = await own(ctx);
    ctx.body = await ob.requestProduction(app.merchant_id, 'merchant:api');
  });

  router.get('/v1/admin/onboarding', rc.requireAdmin, async (ctx) => {
    const apps = await ob.db('dashboard_applications').orderBy('created_at', 'desc').limit(500);
    ctx.body = { object: 'list', data: await Promise.all(apps.map((a: { merchant_id: string }) => ob.state(a.merchant_id))) };
  });
  router.get('/v1/admin/onboarding/:merchantId', rc.requireAdmin, async (ctx) => {
    ctx.body = { ...(await ob.state(ctx.params.merchantId!)), events: await ob.events(ctx.params.merchantId!) };
  });
  router.post('/v1/admin/onboarding/:merchantId/contract', rc.requireAdmin, async (ctx) => {
    ctx.status = 201;
    ctx.body = await ob.recordContract(ctx.params.merchantId!, body(ctx), 'operator');
  });
  router.post('/v1/admin/onboarding/:merchantId/connection-check', rc.requireAdmin, async (ctx) => {
    ctx.body = await ob.checkConnection(ctx.params.merchantId!, 'operator');
  });
  router.post('/v1/admin/onboarding/:merchantId/production', rc.requireAdmin, async (ctx) => {
    const r = await ob.approve(ctx.params.merchantId!, 'operator');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = r;
  });
}
