/**
 * @payhub/plugin-personal-account: personal accounts paid with client certificates issued by the hub's own CA,
 * over mutual TLS or with a signed request. See README.md.
 */
import type Router from '@koa/router';
import {
  definePlugin, TOKENS, ValidationError, PayhubError,
  type LifecycleContext, type PaymentMethod, type PaymentsService, type Runtime, type Keyring, type Clock,
} from '@payhub/core';
import { personalAccountOptions, type PersonalAccountOptions } from './options';
import { migrations } from './migrations';
import { openapi } from './openapi';
import { accountJson, certificateJson, providerJson } from './service';
import { PersonalAccountMethod, TlsHandoff } from './method';
import { MtlsListener } from './mtls';
import { issueServerCertificate } from './pki';
import { commands } from './cli';
import { STATE, stateOf, serviceOf, type PersonalAccountState } from './state';

export { STATE, stateOf, serviceOf, type PersonalAccountState } from './state';

export { PersonalAccountMethod, TlsHandoff, outcomeFromBank } from './method';
export { AccountsService } from './service';
export * as pki from './pki';
export { personalAccountOptions, type PersonalAccountOptions } from './options';

function body(ctx: { request: unknown }): Record<string, unknown> {
  const b = (ctx.request as { body?: unknown }).body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b)) throw new ValidationError([{ field: 'body', message: 'must be a JSON object' }]);
  return b as Record<string, unknown>;
}

export default definePlugin<PersonalAccountOptions>({
  name: 'personal-account',
  version: require('../../package.json').version,
  core: '^1.0.0',
  kind: 'payment-method',
  description: 'Personal accounts paid with client certificates (own CA, mutual TLS or signed requests)',
  options: personalAccountOptions as never,
  migrations,
  openapi,

  register(ctx) {
    const st: PersonalAccountState = { service: null, handoff: new TlsHandoff(), listener: null, purgeTimer: null };
    ctx.container.register(STATE, { useValue: st });
    const own = ctx.container;
    ctx.provide<PaymentMethod>(TOKENS.PaymentMethod, {
      useFactory: () => new PersonalAccountMethod(serviceOf(own, ctx.options), own, st.handoff) as PaymentMethod,
    });
  },

  routes(router: Router, ctx) {
    const svc = () => serviceOf(ctx.container, ctx.options);
    const admin = ctx.requireAdmin;

    router.post('/v1/admin/account-providers', admin, async (c) => {
      c.status = 201;
      c.body = providerJson(await svc().createProvider(body(c)));
    });
    router.get('/v1/admin/account-providers', admin, async (c) => {
      c.body = { object: 'list', data: (await svc().listProviders()).map(providerJson) };
    });
    router.post('/v1/accounts', admin, async (c) => {
      c.status = 201;
      c.body = accountJson(await svc().createAccount(body(c)));
    });
    router.get('/v1/accounts/:id', admin, async (c) => {
      c.body = accountJson(await svc().getAccount(c.params.id!));
    });
    router.delete('/v1/accounts/:id', admin, async (c) => {
      c.body = accountJson(await svc().closeAccount(c.params.id!));
    });
    router.post('/v1/accounts/:id/certificates', admin, async (c) => {
      const r = await svc().issue(c.params.id!, body(c));
      c.status = 201;
      c.set('Cache-Control', 'no-store');
      c.body = {
        ...certificateJson(r.row),
        ca_certificate: r.caPem,
        ...(r.pkcs12 ? { pkcs12: r.pkcs12.toString('base64') } : {}),
      };
    });
    router.get('/v1/accounts/:id/certificates', admin, async (c) => {
      c.body = { object: 'list', data: (await svc().listCertificates(c.params.id!)).map(certificateJson) };
    });
    router.delete('/v1/accounts/:id/certificates/:serial', admin, async (c) => {
      const raw = (c.request as { body?: unknown }).body;
      const b = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
      const reason = b.reason ?? c.query.reason;
      c.body = certificateJson(await svc().revoke(c.params.serial!, reason, c.params.id!));
    });
    router.get('/pki/ca.pem', async (c) => {
      c.type = 'application/x-pem-file';
      c.body = await svc().caPem();
    });
    router.get('/pki/crl.pem', async (c) => {
      c.type = 'application/x-pem-file';
      c.set('Cache-Control', 'no-cache');
      c.body = await svc().crlPem();
    });
    // Public: the hosted payment page links buyers here. Builds a URL, reveals nothing about the order.
    router.get('/v1/personal-account/link/:order_id', async (c) => {
      const id = c.params.order_id!;
      if (!/^ord_[A-Za-z0-9]{1,64}$/.test(id)) throw new ValidationError([{ field: 'order_id', message: 'has an invalid format' }]);
      const l = stateOf(ctx.container).listener;
      if (!l) throw new PayhubError('mtls_disabled', 'The mutual-TLS listener is not running', { status: 503 });
      c.body = { url: l.linkFor(id) };
    });
  },

  async onReady(ctx) {
    const st = stateOf(ctx.container);
    const service = serviceOf(ctx.container, ctx.options);
    const ca = await service.ensureCa();
    st.purgeTimer = setInterval(() => {
      service.purgeNonces().catch((e) => ctx.logger.warn({ err: (e as Error).message }, 'nonce purge failed'));
    }, 60_000);
    st.purgeTimer.unref();
    const o = ctx.options;
    if (o.mtlsPort === null) return;
    const tlsPair = o.serverCertPem && o.serverKeyPem
      ? { certPem: o.serverCertPem, keyPem: o.serverKeyPem }
      : issueServerCertificate(ca, o.mtlsHostnames, ctx.container.resolve<Clock>(TOKENS.Clock).now());
    const listener = new MtlsListener({
      service,
      payments: () => ctx.container.resolve<PaymentsService>(TOKENS.Payments),
      runtime: () => ctx.container.resolve<Runtime>(TOKENS.Runtime),
      keyring: () => ctx.container.resolve<Keyring>(TOKENS.Keyring),
      clock: () => ctx.container.resolve<Clock>(TOKENS.Clock),
      handoff: st.handoff,
      logger: ctx.logger,
      publicUrl: o.mtlsPublicUrl,
      host: o.mtlsHost,
    });
    try {
      const port = await listener.start({ cert: tlsPair.certPem, key: tlsPair.keyPem, ca: ca.certPem }, o.mtlsPort, o.mtlsHost);
      st.listener = listener;
      ctx.logger.info({ port }, 'personal-account mutual-TLS listener started');
    } catch (e) {
      // CLI commands and `payhub worker` build the hub too; the serving process may already hold the port.
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      ctx.logger.warn({ port: o.mtlsPort }, 'personal-account: mTLS port in use, listener not started in this process');
    }
  },

  async onClose(ctx: LifecycleContext<PersonalAccountOptions>) {
    const st = stateOf(ctx.container);
    if (st.purgeTimer) clearInterval(st.purgeTimer);
    st.purgeTimer = null;
    const l = st.listener;
    st.listener = null;
    if (l) await l.close();
  },

  commands,
});
