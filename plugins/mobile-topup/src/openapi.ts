/**
 * OpenAPI 3.1 path items of this plugin's JSON API (merged into the hub's GET /openapi.json).
 * The buyer page /topup is HTML, not a JSON API route.
 */
const problem = { $ref: '#/components/responses/Problem' };
const json = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });
const body = (schema: unknown) => ({ required: true, content: { 'application/json': { schema } } });
const merchant = [{ secretKey: [] }];
const admin = [{ adminToken: [] }];
const tags = ['mobile top-up'];
const idemHeader = { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } };
const header = (name: string, description: string, schema: unknown = { type: 'string' }) => ({ name, in: 'header', required: true, description, schema });

const msisdn = { type: 'string', description: 'phone number, E.164 (e.g. +79161234567) or national in the defaultCountry' };
const amount = { type: 'integer', minimum: 1, description: 'minor units, within the minAmount..maxAmount options' };
const currency = { type: 'string', pattern: '^[A-Z]{3}$', description: 'the currency option (default RUB)' };
const topup = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'tup_…' }, object: { const: 'topup' },
    status: { enum: ['awaiting_payment', 'ready', 'sending', 'pending', 'unknown', 'processed', 'declined', 'canceled'] },
    msisdn: { type: 'string' }, operator: { type: 'string' }, amount: { type: 'integer' }, currency: { type: 'string' },
    source: { enum: ['order', 'cash'] }, order_id: { type: ['string', 'null'] },
    pay_url: { type: ['string', 'null'], format: 'uri', description: 'payment page of the order (paid top-ups)' },
    terminal_id: { type: ['string', 'null'] }, receipt: { type: ['string', 'null'] }, operator_ref: { type: ['string', 'null'] },
    decline_reason: { type: ['string', 'null'] }, refund_status: { type: ['string', 'null'] },
    created_at: { type: 'string', format: 'date-time' }, updated_at: { type: 'string', format: 'date-time' },
  },
};

export const openapi = {
  '/v1/topups': {
    post: {
      summary: 'Create a paid top-up: an order for the merchant, credited to the phone once the order is paid', tags, security: merchant,
      parameters: [idemHeader],
      requestBody: body({
        type: 'object', required: ['msisdn', 'amount'],
        properties: {
          msisdn, amount, currency,
          return_url: { type: 'string', format: 'uri' },
          customer: { type: 'object', properties: { email: { type: 'string' }, phone: { type: 'string' } } },
        },
      }),
      responses: { 201: json('The top-up; the buyer pays at pay_url', topup), 400: problem, 401: problem, 409: problem, 422: problem },
    },
  },
  '/v1/topups/{id}': {
    get: {
      summary: 'Get a top-up', tags, security: merchant,
      parameters: [{ name: 'id', in: 'path', required: true, description: 'tup_…', schema: { type: 'string' } }],
      responses: { 200: json('The top-up', topup), 401: problem, 404: problem },
    },
  },
  '/v1/topup-terminals': {
    post: {
      summary: 'Register a cash terminal (its signing secret is returned once)', tags, security: merchant,
      requestBody: body({ type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 200 } } }),
      responses: {
        201: json('The terminal and its secret', { type: 'object', properties: { object: { const: 'topup_terminal' }, id: { type: 'string' }, secret: { type: 'string' } } }),
        400: problem, 401: problem, 422: problem,
      },
    },
  },
  '/v1/topup-terminals/cash-in': {
    post: {
      summary: 'A cash top-up from a terminal, signed with its secret (a repeated receipt returns the top-up already made)', tags, security: [],
      parameters: [
        header('X-Terminal-Id', 'trm_…'),
        header('X-Timestamp', 'Unix seconds, within signatureWindow of the hub clock', { type: 'string', pattern: '^\\d{1,12}$' }),
        header('X-Signature', 'hex HMAC-SHA256(secret, "<timestamp>.<raw body>")', { type: 'string', pattern: '^[0-9a-f]{64}$' }),
      ],
      requestBody: body({
        type: 'object', required: ['receipt', 'msisdn', 'amount'],
        properties: { receipt: { type: 'string', pattern: '^[\\w.:/-]{1,64}$', description: "the terminal's receipt number" }, msisdn, amount, currency },
      }),
      responses: {
        200: json('The top-up made earlier for this receipt', { ...topup, properties: { ...topup.properties, duplicate: { const: true } } }),
        201: json('The top-up, credited or queued', { ...topup, properties: { ...topup.properties, duplicate: { const: false } } }),
        400: problem, 401: problem, 409: problem, 422: problem,
      },
    },
  },
  '/v1/topups/run': {
    post: {
      summary: 'Move due top-ups now: credit, re-check, refund declined ones (operator)', tags, security: admin,
      responses: { 200: json('How many were due', { type: 'object', properties: { object: { const: 'topup_run' }, due: { type: 'integer' } } }), 401: problem },
    },
  },
};
