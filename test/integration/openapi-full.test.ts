import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { createTestHub, type TestHub } from '@payhub/core';

/** Every shipped plugin (build/test/integration → the repository's plugins/). */
const SHIPPED = [
  'sandbox-bank', 'card', 'checkout-page', 'webmoney', 'yoomoney', 'qiwi',
  'personal-account', 'transaction-control', 'loyalty', 'mobile-topup', 'dashboard',
];
const plugin = (name: string) => path.resolve(__dirname, '../../..', 'plugins', name);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

let hub: TestHub;
// The dashboard writes its operator's one-time password under dataDir: keep it out of the project's data/.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-openapi-'));

test.before(async () => {
  const options: Record<string, Record<string, unknown>> = {
    'personal-account': { mtlsPort: null },
    dashboard: { dataDir, mailDir: path.join(dataDir, 'mail') },
  };
  hub = await createTestHub({ plugins: SHIPPED.map((name) => ({ resolve: plugin(name), options: options[name] ?? {} })) });
});

test.after.always(async () => {
  await hub?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('GET /openapi.json with every shipped plugin validates against the OpenAPI 3.1 schema', async (t) => {
  const r = await hub.api('GET', '/openapi.json');
  t.is(r.status, 200);
  t.is(r.body.openapi, '3.1.0');
  const { Validator } = await import('@seriousme/openapi-schema-validator');
  const v = new Validator();
  const res = await v.validate(r.body);
  t.true(res.valid, JSON.stringify(res.errors, null, 2));
  // Every path template parameter is declared; operationIds are unique; every $ref resolves.
  const opIds = new Set<string>();
  for (const [p, item] of Object.entries(r.body.paths as Record<string, Record<string, { operationId: string; parameters?: Array<{ in: string; name: string; required?: boolean }> }>>)) {
    for (const [m, op] of Object.entries(item)) {
      t.true(METHODS.includes(m), `${m} ${p}`);
      t.false(opIds.has(op.operationId), `operationId ${op.operationId} is unique`);
      opIds.add(op.operationId);
      for (const [, name] of p.matchAll(/\{(\w+)\}/g)) {
        t.true((op.parameters ?? []).some((x) => x.in === 'path' && x.name === name && x.required === true), `${m} ${p} declares {${name}}`);
      }
    }
  }
  for (const [, ref] of r.text.matchAll(/"\$ref":"#\/([^"]+)"/g)) {
    t.truthy(ref!.split('/').reduce<any>((o, k) => o?.[k], r.body), `#/${ref} resolves`); // eslint-disable-line @typescript-eslint/no-explicit-any
  }
});

test('every /v1 route the plugins mount is documented, and every documented /v1 operation is mounted', async (t) => {
  const r = await hub.api('GET', '/openapi.json');
  const mounted = new Set<string>();
  for (const layer of hub.hub.router.stack) {
    const p = String(layer.path);
    if (!p.startsWith('/v1/')) continue;
    for (const m of layer.methods) if (m !== 'HEAD') mounted.add(`${m.toLowerCase()} ${p.replace(/:(\w+)/g, '{$1}')}`);
  }
  const documented = new Set<string>();
  for (const [p, ops] of Object.entries(r.body.paths as Record<string, Record<string, unknown>>)) {
    if (!p.startsWith('/v1/')) continue;
    for (const m of Object.keys(ops)) documented.add(`${m} ${p}`);
  }
  t.deepEqual([...mounted].filter((x) => !documented.has(x)).sort(), [], 'mounted but not documented');
  t.deepEqual([...documented].filter((x) => !mounted.has(x)).sort(), [], 'documented but not mounted');
  // The plugins' routes are really in: one of each plugin with a /v1 API.
  for (const x of ['get /v1/checkout-theme', 'delete /v1/accounts/{id}/certificates/{serial}', 'put /v1/risk/rules', 'post /v1/loyalty/orders', 'post /v1/topup-terminals/cash-in', 'post /v1/admin/onboarding/{merchantId}/production']) {
    t.true(documented.has(x), x);
  }
});

test('plugin operations carry a summary, tags, a security requirement and described responses', async (t) => {
  const r = await hub.api('GET', '/openapi.json');
  const schemes = Object.keys(r.body.components.securitySchemes);
  for (const [p, ops] of Object.entries(r.body.paths as Record<string, Record<string, { summary?: string; tags?: string[]; security?: Array<Record<string, unknown>>; responses: Record<string, { description?: string }> }>>)) {
    for (const [m, op] of Object.entries(ops)) {
      t.truthy(op.summary, `${m} ${p} summary`);
      t.true(Array.isArray(op.tags) && op.tags.length > 0, `${m} ${p} tags`);
      t.true(Array.isArray(op.security), `${m} ${p} states its security`);
      for (const req of op.security ?? []) for (const s of Object.keys(req)) t.true(schemes.includes(s), `${m} ${p} security ${s}`);
      for (const [code, resp] of Object.entries(op.responses)) t.truthy(resp.description, `${m} ${p} ${code} description`);
    }
  }
});
