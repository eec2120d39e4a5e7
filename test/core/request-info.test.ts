import test from 'ava';
import { createTestHub, definePlugin } from '@payhub/core';

const echo = definePlugin({
  name: 'echo-request', version: '1.0.0', core: '^1.0.0',
  routes(router, rctx) {
    router.get('/fixture/request', (ctx) => {
      ctx.body = rctx.requestInfo(ctx);
    });
  },
});

test('X-Forwarded-For is ignored unless the hub is told a proxy is trusted', async (t) => {
  const plain = await createTestHub({ inlinePlugins: [echo] });
  t.teardown(() => plain.close());
  const r1 = await plain.api('GET', '/fixture/request', { headers: { 'x-forwarded-for': '203.0.113.9', 'cf-ipcountry': 'DE' } });
  t.regex(r1.body.ip, /127\.0\.0\.1/);
  t.is(r1.body.country, undefined);

  const proxied = await createTestHub({ inlinePlugins: [echo], config: { http: { trustProxy: true, countryHeader: 'CF-IPCountry' } } });
  t.teardown(() => proxied.close());
  const r2 = await proxied.api('GET', '/fixture/request', { headers: { 'x-forwarded-for': '203.0.113.9', 'cf-ipcountry': 'de', 'accept-language': 'ru' } });
  t.is(r2.body.ip, '203.0.113.9');
  t.is(r2.body.country, 'DE');
  t.is(r2.body.lang, 'ru');
  t.is(r2.body.baseUrl, proxied.url.replace('127.0.0.1', 'localhost'));
});
