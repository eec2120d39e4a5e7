/**
 * OpenAPI 3.1 path items of this plugin's JSON API (merged into the hub's GET /openapi.json).
 * The schemas follow the zod schemas of src/rules.ts and src/index.ts.
 */
const problem = { $ref: '#/components/responses/Problem' };
const json = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });
const merchant = [{ secretKey: [] }];
const tags = ['risk'];

const action = { enum: ['review', 'deny'], default: 'deny', description: 'what the attempt gets when the rule fires' };
const currency = { type: 'string', pattern: '^[A-Z]{3}$' };
const country = { type: 'string', pattern: '^[A-Z]{2}$' };
const minor = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'minor units' };
const minutes = { type: 'integer', minimum: 1, maximum: 44640 };
const cidr = { type: 'string', maxLength: 64, description: 'an IP address or a CIDR range' };
const amountRule = { type: 'object', additionalProperties: false, required: ['currency', 'max'], properties: { currency, max: minor, action } };
const listRule = (item: unknown) => ({
  type: ['object', 'null'], additionalProperties: false,
  properties: { allowed: { type: 'array', maxItems: 500, items: item }, blocked: { type: 'array', maxItems: 500, items: item }, action },
});

const rules = {
  type: 'object', additionalProperties: false, description: 'Every part is optional; absent means "not checked".',
  properties: {
    amount_per_transaction: { type: 'array', maxItems: 50, items: amountRule, description: 'largest amount of one payment, per currency' },
    amount_per_day: { type: 'array', maxItems: 50, items: amountRule, description: 'largest total per UTC day, per currency, of attempts not declined' },
    velocity: {
      type: 'array', maxItems: 30, description: 'at most max_attempts attempts in window_minutes per card, e-mail or IP',
      items: {
        type: 'object', additionalProperties: false, required: ['key', 'max_attempts', 'window_minutes'],
        properties: { key: { enum: ['card', 'email', 'ip'] }, max_attempts: { type: 'integer', minimum: 1, maximum: 1000000 }, window_minutes: minutes, action },
      },
    },
    card_declines: {
      type: ['object', 'null'], additionalProperties: false, required: ['max_declines', 'window_minutes'],
      properties: { max_declines: { type: 'integer', minimum: 1, maximum: 1000 }, window_minutes: minutes, action },
    },
    card_country: listRule(country),
    card_brand: listRule({ type: 'string', pattern: '^[a-z0-9_-]{2,20}$' }),
    blocklist: {
      type: ['object', 'null'], additionalProperties: false,
      properties: {
        card_fingerprints: { type: 'array', maxItems: 10000, items: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
        emails: { type: 'array', maxItems: 10000, items: { type: 'string', minLength: 3, maxLength: 254 } },
        ip_ranges: { type: 'array', maxItems: 10000, items: cidr },
        action,
      },
    },
    country_mismatch: { type: ['object', 'null'], additionalProperties: false, properties: { action } },
  },
};
const rulesResponse = { type: 'object', properties: { object: { const: 'risk_rules' }, rules } };
const decision = {
  type: 'object',
  properties: {
    id: { type: 'string' }, object: { const: 'risk_decision' }, decision: { enum: ['allow', 'review', 'deny'] }, payment_id: { type: 'string' },
    order_id: { type: 'string' }, method: { type: 'string' }, amount: { type: 'integer' }, currency: { type: 'string' },
    ip: { type: ['string', 'null'] }, card_fingerprint: { type: ['string', 'null'] },
    rules: {
      type: 'array', description: 'the rules that fired',
      items: { type: 'object', properties: { rule: { type: 'string' }, action: { enum: ['review', 'deny'] }, value: {}, threshold: {} } },
    },
    created_at: { type: 'string', format: 'date-time' },
  },
};
const query = (name: string, schema: unknown, description?: string) => ({ name, in: 'query', required: false, schema, ...(description ? { description } : {}) });
const ipCountries = { type: 'object', properties: { object: { const: 'ip_countries' }, count: { type: 'integer' } } };

export const openapi = {
  '/v1/risk/rules': {
    get: { summary: "The merchant's risk rules", tags, security: merchant, responses: { 200: json('The rules (defaults filled in)', rulesResponse), 401: problem } },
    put: {
      summary: "Replace the merchant's risk rules", tags, security: merchant,
      requestBody: {
        required: true,
        content: { 'application/json': { schema: { anyOf: [rules, { type: 'object', required: ['rules'], additionalProperties: false, properties: { rules } }] } } },
      },
      responses: { 200: json('The stored rules (defaults filled in)', rulesResponse), 400: problem, 401: problem, 422: problem },
    },
  },
  '/v1/risk/decisions': {
    get: {
      summary: 'Risk decisions of payment attempts (newest first, cursor pagination)', tags, security: merchant,
      parameters: [
        query('decision', { enum: ['allow', 'review', 'deny'] }),
        query('order_id', { type: 'string' }),
        query('payment_id', { type: 'string' }),
        query('rule', { type: 'string', pattern: '^[a-z_]{2,40}$' }, 'only decisions where this rule fired'),
        query('created_from', { type: 'string', format: 'date-time' }),
        query('created_to', { type: 'string', format: 'date-time' }, 'exclusive'),
        query('limit', { type: 'integer', minimum: 1, maximum: 100, default: 20 }),
        query('starting_after', { type: 'string' }, 'a decision id (next_cursor of the previous page)'),
      ],
      responses: {
        200: json('A page of decisions', {
          type: 'object',
          properties: { object: { const: 'list' }, data: { type: 'array', items: decision }, has_more: { type: 'boolean' }, next_cursor: { type: ['string', 'null'] } },
        }),
        401: problem, 422: problem,
      },
    },
  },
  '/v1/risk/ip-countries': {
    put: {
      summary: "Replace the merchant's IP range → country table (for the country_mismatch rule)", tags, security: merchant,
      requestBody: {
        required: true,
        content: {
          'application/json': {
            schema: {
              type: 'object', required: ['ranges'], additionalProperties: false,
              properties: {
                ranges: {
                  type: 'array', maxItems: 50000,
                  items: { type: 'object', required: ['cidr', 'country'], additionalProperties: false, properties: { cidr, country } },
                },
              },
            },
          },
        },
      },
      responses: { 200: json('How many ranges are stored', ipCountries), 400: problem, 401: problem, 422: problem },
    },
    get: { summary: "Size of the merchant's IP → country table", tags, security: merchant, responses: { 200: json('How many ranges are stored', ipCountries), 401: problem } },
  },
};
