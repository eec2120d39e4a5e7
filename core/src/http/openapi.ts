/**
 * OpenAPI 3.1 description of the core HTTP API. A test compares its paths with the mounted routes.
 */
const problem = { $ref: '#/components/responses/Problem' };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const idParam = (name = 'id') => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const idemHeader = { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } };
const errors = { 400: problem, 401: problem, 404: problem, 409: problem, 422: problem };
const list = (item: string) => ({ type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: ref(item) }, has_more: { type: 'boolean' } } });

interface Op { summary: string; tags: string[]; security?: unknown[]; parameters?: unknown[]; requestBody?: unknown; responses: Record<string, unknown> }

const merchant = [{ secretKey: [] }];
const admin = [{ adminToken: [] }];

export const OPERATIONS: Record<string, Record<string, Op>> = {
  '/health': { get: { summary: 'Liveness', tags: ['system'], security: [], responses: { 200: json({ type: 'object' }) } } },
  '/ready': { get: { summary: 'Readiness (database reachable, plugins ready)', tags: ['system'], security: [], responses: { 200: json({ type: 'object' }), 503: json({ type: 'object' }) } } },
  '/metrics': { get: { summary: 'Prometheus metrics', tags: ['system'], security: [], responses: { 200: { content: { 'text/plain': { schema: { type: 'string' } } } } } } },
  '/openapi.json': { get: { summary: 'This document', tags: ['system'], security: [], responses: { 200: json({ type: 'object' }) } } },
  '/v1/orders': {
    post: { summary: 'Create an order', tags: ['orders'], security: merchant, parameters: [idemHeader], requestBody: { required: true, ...json(ref('OrderInput')) }, responses: { 201: json(ref('Order')), ...errors } },
    get: {
      summary: 'List orders (cursor pagination, newest first)', tags: ['orders'], security: merchant,
      parameters: ['status', 'order_number', 'created_from', 'created_to', 'limit', 'starting_after'].map((n) => ({ name: n, in: 'query', required: false, schema: { type: n === 'limit' ? 'integer' : 'string' } })),
      responses: { 200: json(list('Order')), ...errors },
    },
  },
  '/v1/orders/{id}': { get: { summary: 'Get an order with its payments and refunds', tags: ['orders'], security: merchant, parameters: [idParam()], responses: { 200: json(ref('Order')), ...errors } } },
  '/v1/orders/{id}/payments': { post: { summary: 'Start a payment attempt with a method', tags: ['payments'], security: merchant, parameters: [idParam(), idemHeader], requestBody: { required: true, ...json(ref('PaymentInput')) }, responses: { 201: json(ref('Payment')), ...errors } } },
  '/v1/orders/{id}/capture': { post: { summary: 'Capture an authorized order (partial allowed, once)', tags: ['payments'], security: merchant, parameters: [idParam(), idemHeader], requestBody: json({ type: 'object', properties: { amount: { type: 'integer', minimum: 1 } }, additionalProperties: false }), responses: { 200: json(ref('Order')), 402: problem, ...errors } } },
  '/v1/orders/{id}/cancel': { post: { summary: 'Cancel an unpaid order or void an authorization', tags: ['payments'], security: merchant, parameters: [idParam(), idemHeader], responses: { 200: json(ref('Order')), ...errors } } },
  '/v1/orders/{id}/refunds': { post: { summary: 'Refund a paid order (several partial refunds allowed)', tags: ['payments'], security: merchant, parameters: [idParam(), idemHeader], requestBody: json({ type: 'object', properties: { amount: { type: 'integer', minimum: 1 }, currency: { type: 'string' }, reason: { type: 'string' } }, additionalProperties: false }), responses: { 201: json(ref('Refund')), 402: problem, ...errors } } },
  '/v1/orders/{id}/review': { post: { summary: 'Approve (capture) or reject (void) a payment held for risk review', tags: ['payments'], security: merchant, parameters: [idParam(), idemHeader], requestBody: json({ type: 'object', required: ['decision'], properties: { decision: { enum: ['approve', 'reject'] } }, additionalProperties: false }), responses: { 200: json(ref('Order')), ...errors } } },
  '/v1/payment-methods': { get: { summary: 'Methods available to the merchant', tags: ['payment methods'], security: merchant, responses: { 200: json({ type: 'object' }), 401: problem } } },
  '/v1/payment-methods/{method}/settings': {
    get: { summary: "A method's settings (secrets masked)", tags: ['payment methods'], security: merchant, parameters: [idParam('method')], responses: { 200: json({ type: 'object' }), ...errors } },
    put: { summary: "Store a method's per-merchant settings (encrypted at rest)", tags: ['payment methods'], security: merchant, parameters: [idParam('method')], requestBody: json({ type: 'object' }), responses: { 200: json({ type: 'object' }), ...errors } },
  },
  '/v1/events': { get: { summary: 'Event log (what webhooks carry)', tags: ['events'], security: merchant, parameters: ['type', 'order_id', 'limit', 'starting_after'].map((n) => ({ name: n, in: 'query', schema: { type: 'string' } })), responses: { 200: json({ type: 'object' }), 401: problem } } },
  '/v1/webhook-deliveries': { get: { summary: 'Webhook delivery log', tags: ['events'], security: merchant, parameters: ['status', 'limit', 'starting_after'].map((n) => ({ name: n, in: 'query', schema: { type: 'string' } })), responses: { 200: json({ type: 'object' }), 401: problem } } },
  '/v1/webhook-deliveries/{id}/retry': { post: { summary: 'Send a delivery again now', tags: ['events'], security: merchant, parameters: [idParam(), idemHeader], responses: { 200: json({ type: 'object' }), ...errors } } },
  '/v1/balance': { get: { summary: 'Balance per currency (pending, available)', tags: ['ledger'], security: merchant, responses: { 200: json({ type: 'object' }), 401: problem } } },
  '/v1/ledger/entries': { get: { summary: 'Ledger entries of the merchant', tags: ['ledger'], security: merchant, parameters: ['ref_id', 'limit', 'starting_after'].map((n) => ({ name: n, in: 'query', schema: { type: 'string' } })), responses: { 200: json({ type: 'object' }), 401: problem } } },
  '/return/{id}': {
    get: { summary: 'Buyer returns from a provider or 3-D Secure page', tags: ['buyer'], security: [], parameters: [idParam()], responses: { 302: { description: 'to the payment page or return_url' } } },
    post: { summary: 'Buyer returns (form post) from a provider or 3-D Secure page', tags: ['buyer'], security: [], parameters: [idParam()], responses: { 302: { description: 'to the payment page or return_url' } } },
  },
  '/v1/admin/merchants': {
    post: { summary: 'Create a merchant (operator)', tags: ['admin'], security: admin, requestBody: json({ type: 'object' }), responses: { 201: json({ type: 'object' }), ...errors } },
    get: { summary: 'List merchants (operator)', tags: ['admin'], security: admin, responses: { 200: json({ type: 'object' }), 401: problem } },
  },
  '/v1/admin/plugins': { get: { summary: 'Loaded plugins (operator)', tags: ['admin'], security: admin, responses: { 200: json({ type: 'object' }), 401: problem } } },
};

export function openApiDocument(baseUrl: string, extra: ReadonlyArray<{ plugin: string; paths: Readonly<Record<string, Record<string, unknown>>> }> = []) {
  const paths: Record<string, Record<string, unknown>> = {};
  const all: Record<string, Record<string, Op>> = { ...OPERATIONS };
  for (const e of extra) {
    for (const [p, ops] of Object.entries(e.paths)) {
      all[p] = { ...(all[p] ?? {}) };
      for (const [m, op] of Object.entries(ops)) {
        const o = op as Partial<Op>;
        all[p]![m] = { summary: o.summary ?? '', tags: o.tags ?? [e.plugin], ...o, responses: o.responses ?? { 200: { description: 'OK' } } } as Op;
      }
    }
  }
  for (const [p, ops] of Object.entries(all)) {
    paths[p] = {};
    for (const [m, op] of Object.entries(ops)) {
      const responses: Record<string, unknown> = {};
      for (const [code, r] of Object.entries(op.responses)) responses[code] = { description: (r as { description?: string }).description ?? `HTTP ${code}`, ...(r as object) };
      paths[p]![m] = { ...op, operationId: `${m}${p.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`, responses };
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Payhub API', version: '1.0.0', description: 'Merchant and operator API of a Payhub payment hub. Errors are RFC 9457 problem documents.' },
    servers: [{ url: baseUrl }],
    security: [{ secretKey: [] }],
    paths,
    components: {
      securitySchemes: {
        secretKey: { type: 'http', scheme: 'bearer', description: 'sk_test_… or sk_live_…' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'operator token' },
      },
      responses: {
        Problem: { description: 'RFC 9457 problem', content: { 'application/problem+json': { schema: ref('Problem') } } },
      },
      schemas: {
        Problem: {
          type: 'object', required: ['type', 'title', 'status', 'code'],
          properties: {
            type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' },
            errors: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } }, request_id: { type: 'string' },
          },
        },
        OrderInput: {
          type: 'object', required: ['order_number', 'amount', 'currency'], additionalProperties: false,
          properties: {
            order_number: { type: 'string', maxLength: 64 }, amount: { type: 'integer', minimum: 1, description: 'minor units' },
            currency: { type: 'string', pattern: '^[A-Z]{3}$' }, description: { type: 'string', maxLength: 1000 },
            capture: { enum: ['automatic', 'manual'] }, return_url: { type: 'string', format: 'uri' }, notify_url: { type: 'string', format: 'uri' },
            customer: { type: 'object', properties: { email: { type: 'string' }, phone: { type: 'string' } }, additionalProperties: false },
            metadata: { type: 'object' }, expires_in: { type: 'integer', minimum: 60, maximum: 2592000 },
          },
        },
        Order: {
          type: 'object',
          properties: {
            id: { type: 'string' }, status: { enum: ['created', 'processing', 'requires_action', 'authorized', 'paid', 'partially_refunded', 'refunded', 'canceled', 'expired'] },
            order_number: { type: 'string' }, amount: { type: 'integer' }, currency: { type: 'string' }, pay_url: { type: 'string' },
            amount_captured: { type: 'integer' }, amount_refunded: { type: 'integer' },
            payments: { type: 'array', items: ref('Payment') }, refunds: { type: 'array', items: ref('Refund') },
          },
        },
        PaymentInput: { type: 'object', required: ['method'], properties: { method: { type: 'string' } }, description: 'Each method defines its own inputs (e.g. card: {card:{number,exp_month,exp_year,cvc,holder}}).' },
        Payment: {
          type: 'object',
          properties: {
            id: { type: 'string' }, status: { enum: ['pending', 'requires_action', 'authorized', 'captured', 'declined', 'failed', 'unknown', 'canceled'] },
            method: { type: 'string' }, amount: { type: 'integer' }, currency: { type: 'string' }, decline_reason: { type: ['string', 'null'] },
            next_action: { oneOf: [{ type: 'null' }, { type: 'object', properties: { type: { const: 'redirect' }, url: { type: 'string' } } }, { type: 'object', properties: { type: { const: 'form' }, url: { type: 'string' }, method: { type: 'string' }, fields: { type: 'object' } } }] },
          },
        },
        Refund: { type: 'object', properties: { id: { type: 'string' }, amount: { type: 'integer' }, currency: { type: 'string' }, status: { enum: ['pending', 'succeeded', 'failed', 'unknown'] } } },
      },
    },
  };
}
