/**
 * OpenAPI 3.1 path items of this plugin's JSON API (merged into the hub's GET /openapi.json).
 * The holder page /loyalty/{number} is HTML, not a JSON API route.
 */
const problem = { $ref: '#/components/responses/Problem' };
const json = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });
const body = (schema: unknown) => ({ required: true, content: { 'application/json': { schema } } });
const merchant = [{ secretKey: [] }];
const admin = [{ adminToken: [] }];
const tags = ['loyalty'];
const idemHeader = { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', maxLength: 255 } };
const numberParam = { name: 'number', in: 'path', required: true, description: 'loyalty card number (digits)', schema: { type: 'string' } };
const errors = { 400: problem, 401: problem, 404: problem, 409: problem, 422: problem };

const bps = { type: 'integer', minimum: 0, maximum: 10000, description: 'basis points (100 = 1 %)' };
const rules = {
  type: 'object', additionalProperties: false,
  properties: {
    earn_bps: { ...bps, default: 0, description: 'points earned per captured minor units, in basis points' },
    categories: { type: 'object', additionalProperties: bps, propertyNames: { minLength: 1, maxLength: 64 }, default: {}, description: 'per order metadata.category, replaces earn_bps' },
    discount_bps: { ...bps, default: 0, description: 'discount for holders, off the order amount (floor)' },
    point_value: { type: 'integer', minimum: 1, maximum: 1000000, default: 1, description: 'minor units of the order currency one point pays for' },
  },
};
const rulesResponse = { type: 'object', properties: { object: { const: 'loyalty_rules' }, rules } };
const card = {
  type: 'object',
  properties: {
    object: { const: 'loyalty_card' }, number: { type: 'string' }, kind: { enum: ['virtual', 'plastic'] }, status: { type: 'string' },
    holder: { type: 'object', properties: { name: { type: ['string', 'null'] }, email: { type: ['string', 'null'] } } },
    balance: { type: 'integer', description: 'points' }, currency: { const: 'PTS' }, created_at: { type: 'string', format: 'date-time' },
  },
};

export const openapi = {
  '/v1/loyalty/rules': {
    get: { summary: "The merchant's loyalty program", tags, security: merchant, responses: { 200: json('The rules (defaults filled in)', rulesResponse), 401: problem } },
    put: {
      summary: "Replace the merchant's loyalty program", tags, security: merchant, requestBody: body(rules),
      responses: { 200: json('The stored rules', rulesResponse), 400: problem, 401: problem, 422: problem },
    },
  },
  '/v1/loyalty/cards': {
    post: {
      summary: 'Issue a virtual card or register a printed (plastic) one', tags, security: merchant, parameters: [idemHeader],
      requestBody: body({
        type: 'object', additionalProperties: false,
        properties: {
          kind: { enum: ['virtual', 'plastic'], default: 'virtual' },
          number: { type: 'string', description: 'plastic cards only: the printed number (in the range, Luhn-valid)' },
          holder: {
            type: 'object', additionalProperties: false,
            properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, email: { type: 'string', format: 'email', maxLength: 254 } },
          },
        },
      }),
      responses: {
        201: json("The card and the holder's secret code (shown once)", { ...card, properties: { ...card.properties, code: { type: 'string' } } }),
        ...errors,
      },
    },
  },
  '/v1/loyalty/cards/{number}': {
    get: { summary: 'A card with its balance', tags, security: merchant, parameters: [numberParam], responses: { 200: json('The card', card), ...errors } },
  },
  '/v1/loyalty/cards/{number}/movements': {
    get: {
      summary: "A card's point movements (newest first, last 50)", tags, security: merchant, parameters: [numberParam],
      responses: {
        200: json('Movements', {
          type: 'object',
          properties: {
            object: { const: 'list' },
            data: {
              type: 'array',
              items: { type: 'object', properties: { kind: { type: 'string' }, points: { type: 'integer' }, ref_id: { type: ['string', 'null'] }, created_at: { type: 'string', format: 'date-time' } } },
            },
          },
        }),
        ...errors,
      },
    },
  },
  '/v1/loyalty/cards/{number}/adjustments': {
    post: {
      summary: 'Credit (points > 0) or debit (points < 0, never below zero) a card by hand', tags, security: merchant, parameters: [numberParam, idemHeader],
      requestBody: body({
        type: 'object', required: ['points', 'reason'], additionalProperties: false,
        properties: {
          points: { type: 'integer', minimum: -1000000000, maximum: 1000000000, not: { const: 0 } },
          reason: { type: 'string', minLength: 1, maxLength: 200 },
        },
      }),
      responses: {
        201: json('The new balance', { type: 'object', properties: { object: { const: 'loyalty_adjustment' }, balance: { type: 'integer' }, currency: { const: 'PTS' } } }),
        ...errors,
      },
    },
  },
  '/v1/loyalty/orders': {
    post: {
      summary: "Create an order for a card holder: the discount is taken off and the points spent pay part of the rest", tags, security: merchant,
      parameters: [idemHeader],
      requestBody: body({
        type: 'object', required: ['card_number', 'order_number', 'amount', 'currency'],
        description: 'The fields of POST /v1/orders (OrderInput) plus card_number and spend_points.',
        properties: {
          card_number: { type: 'string' },
          spend_points: { type: 'integer', minimum: 0, default: 0, description: 'may pay all but 1 minor unit of the discounted amount' },
          order_number: { type: 'string', maxLength: 64 }, amount: { type: 'integer', minimum: 1, description: 'minor units, before the discount and points' },
          currency: { type: 'string', pattern: '^[A-Z]{3}$' }, description: { type: 'string', maxLength: 1000 },
          capture: { enum: ['automatic', 'manual'] }, return_url: { type: 'string', format: 'uri' }, notify_url: { type: 'string', format: 'uri' },
          customer: { type: 'object', properties: { email: { type: 'string' }, phone: { type: 'string' } }, additionalProperties: false },
          metadata: { type: 'object', description: 'metadata.category selects a categories rate' }, expires_in: { type: 'integer', minimum: 60, maximum: 2592000 },
        },
      }),
      responses: {
        201: json('The order made at the reduced amount (pay it through the normal flow)', {
          type: 'object',
          properties: {
            object: { const: 'loyalty_order' }, order_id: { type: 'string' }, order_number: { type: 'string' }, amount: { type: 'integer' },
            currency: { type: 'string' }, status: { type: 'string' }, card_number: { type: 'string' }, amount_before: { type: 'integer' },
            discount: { type: 'integer' }, points_spent: { type: 'integer' }, point_value: { type: 'integer' }, earn_bps: { type: 'integer' },
          },
        }),
        ...errors,
      },
    },
  },
  '/v1/loyalty/run': {
    post: {
      summary: 'Settle watched orders now: earn after capture, reverse on refund, return unused points (operator)', tags, security: admin,
      responses: {
        200: json('What the pass did', { type: 'object', properties: { object: { const: 'loyalty_run' }, checked: { type: 'integer' }, posted: { type: 'integer' } } }),
        401: problem,
      },
    },
  },
};
