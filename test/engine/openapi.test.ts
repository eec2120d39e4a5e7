import test from 'ava';
import { engineHubs } from '../helpers/engine-kit';
import { internal } from '../helpers/internal';

const { OPERATIONS } = internal<typeof import('../../core/src/http/openapi')>('http/openapi');
const kit = engineHubs(test);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

test('GET /openapi.json is OpenAPI 3.1 in shape: every operation has responses with descriptions', async (t) => {
  const h = await kit.hub();
  const r = await h.api('GET', '/openapi.json');
  t.is(r.status, 200);
  const doc = r.body;
  t.is(doc.openapi, '3.1.0');
  t.truthy(doc.info?.title);
  t.truthy(doc.info?.version);
  t.is(new URL(doc.servers[0].url).port, new URL(h.url).port);
  t.true(Object.keys(doc.paths).length > 0);
  const { Validator } = await import('@seriousme/openapi-schema-validator');
  const validation = await new Validator().validate(doc);
  t.true(validation.valid, JSON.stringify(validation.errors, null, 2));
  const opIds = new Set<string>();
  for (const [p, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) { // eslint-disable-line @typescript-eslint/no-explicit-any
    t.true(p.startsWith('/'), p);
    const params = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const [m, op] of Object.entries(item)) {
      t.true(METHODS.includes(m), `${m} ${p}`);
      t.true(op.responses && Object.keys(op.responses).length > 0, `${m} ${p} has responses`);
      for (const [code, resp] of Object.entries(op.responses as Record<string, { description?: string }>)) {
        t.regex(code, /^([1-5]\d\d|default)$/, `${m} ${p} ${code}`);
        t.is(typeof resp.description, 'string', `${m} ${p} ${code} description`);
      }
      t.false(opIds.has(op.operationId), `operationId ${op.operationId} is unique`);
      opIds.add(op.operationId);
      // Every path template parameter is declared as a required path parameter.
      for (const name of params) {
        t.true((op.parameters ?? []).some((x: { in: string; name: string; required?: boolean }) => x.in === 'path' && x.name === name && x.required === true), `${m} ${p} declares {${name}}`);
      }
    }
  }
  // Every $ref points at something in the document.
  const refs = [...r.text.matchAll(/"\$ref":"#\/([^"]+)"/g)].map((m) => m[1]!);
  t.true(refs.length > 0);
  for (const ref of refs) {
    const target = ref.split('/').reduce<any>((o, k) => o?.[k], doc); // eslint-disable-line @typescript-eslint/no-explicit-any
    t.truthy(target, `#/${ref} resolves`);
  }
});

test('the OpenAPI paths match the routes the hub mounts (core routes only)', async (t) => {
  const h = await kit.hub();
  const mounted = new Set<string>();
  for (const layer of h.hub.router.stack) {
    const p = String(layer.path).replace(/:(\w+)/g, '{$1}');
    for (const m of layer.methods) if (m !== 'HEAD') mounted.add(`${m.toLowerCase()} ${p}`);
  }
  const documented = new Set<string>();
  for (const [p, ops] of Object.entries(OPERATIONS)) for (const m of Object.keys(ops)) documented.add(`${m} ${p}`);
  t.deepEqual([...mounted].filter((x) => !documented.has(x)).sort(), [], 'mounted but not documented');
  t.deepEqual([...documented].filter((x) => !mounted.has(x)).sort(), [], 'documented but not mounted');
  t.true(mounted.has('post /v1/orders/{id}/refunds'));
});
