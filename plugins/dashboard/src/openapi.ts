/**
 * OpenAPI 3.1 path items of the onboarding JSON API (merged into the hub's GET /openapi.json).
 * The dashboard pages under /dashboard are HTML, not JSON API routes.
 */
const problem = { $ref: '#/components/responses/Problem' };
const json = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });
const body = (schema: unknown, required = true) => ({ required, content: { 'application/json': { schema } } });
const merchant = [{ secretKey: [] }];
const admin = [{ adminToken: [] }];
const tags = ['onboarding'];
const appParam = { name: 'id', in: 'path', required: true, description: 'application id (app_…) of the merchant', schema: { type: 'string' } };
const merchantParam = { name: 'merchantId', in: 'path', required: true, schema: { type: 'string' } };
const errors = { 400: problem, 401: problem, 404: problem, 409: problem, 422: problem };

const nullableDate = { type: ['string', 'null'], format: 'date-time' };
const legalInput = {
  type: 'object',
  description: 'tax_id may be sent as inn',
  properties: {
    name: { type: 'string', maxLength: 300 }, tax_id: { type: 'string', pattern: '^[0-9A-Za-z-]{5,40}$' },
    inn: { type: 'string', pattern: '^[0-9A-Za-z-]{5,40}$' }, address: { type: 'string', maxLength: 500 },
  },
};
const contract = {
  type: 'object',
  properties: {
    id: { type: 'string' }, bank_id: { type: 'string' }, bank_merchant_id: { type: 'string' }, terminal_id: { type: 'string' },
    check_status: { enum: ['unchecked', 'ok', 'failed'] }, check_message: { type: ['string', 'null'] }, checked_at: nullableDate,
    recorded_by: { type: 'string' }, created_at: { type: 'string', format: 'date-time' },
  },
};
const state = {
  type: 'object', description: 'Where a merchant stands in onboarding (no secrets)',
  properties: {
    merchant_id: { type: 'string' }, name: { type: 'string' }, mode: { enum: ['test', 'live'] }, test_expires_at: nullableDate,
    bank_adapter: { type: ['string', 'null'] },
    application: {
      type: ['object', 'null'],
      properties: {
        id: { type: 'string' }, status: { enum: ['test', 'registered', 'bank_chosen', 'production_requested', 'live'] },
        shop_name: { type: 'string' }, site_url: { type: 'string' }, contact_email: { type: 'string' },
        legal: { type: 'object', properties: { name: { type: 'string' }, tax_id: { type: 'string' }, address: { type: 'string' } } },
        bank_id: { type: ['string', 'null'] }, bank_details: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
        registered_at: nullableDate, production_requested_at: nullableDate, created_at: { type: 'string', format: 'date-time' },
      },
    },
    contract: { oneOf: [{ type: 'null' }, contract] },
  },
};

export const openapi = {
  '/v1/applications': {
    post: {
      summary: 'Apply as a merchant: creates a test merchant whose test key works for testPeriodHours until registration (public, rate-limited)',
      tags, security: [],
      requestBody: body({
        type: 'object', required: ['shop_name', 'site_url', 'contact_email', 'legal'], additionalProperties: false,
        properties: {
          shop_name: { type: 'string', maxLength: 200 }, site_url: { type: 'string', format: 'uri', maxLength: 500, description: 'http(s) URL' },
          contact_email: { type: 'string', format: 'email', maxLength: 254 },
          legal: { ...legalInput, required: ['name', 'address'], anyOf: [{ required: ['tax_id'] }, { required: ['inn'] }] }, lang: { enum: ['en', 'ru'] },
        },
      }),
      responses: {
        201: json('The application with the test key and webhook secret (shown once)', {
          type: 'object',
          properties: {
            id: { type: 'string' }, object: { const: 'application' }, status: { type: 'string' }, merchant_id: { type: 'string' }, mode: { const: 'test' },
            test_expires_at: { type: 'string', format: 'date-time' }, test_secret_key: { type: 'string' }, webhook_secret: { type: 'string' },
            dashboard_url: { type: 'string', format: 'uri' },
          },
        }),
        400: problem, 409: problem, 422: problem, 429: problem,
      },
    },
  },
  '/v1/banks': {
    get: {
      summary: 'Servicing banks (bank adapters) with the contract fields and documents each needs (public)', tags, security: [],
      responses: {
        200: json('Banks', {
          type: 'object',
          properties: {
            object: { const: 'list' },
            data: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' }, display_name: { type: 'string' },
                  contract: {
                    type: 'object',
                    properties: {
                      fields: {
                        type: 'array',
                        items: { type: 'object', properties: { name: { type: 'string' }, label: { type: 'string' }, required: { type: 'boolean' }, secret: { type: 'boolean' } } },
                      },
                      documents: { type: 'array', items: { type: 'string' } },
                    },
                  },
                },
              },
            },
          },
        }),
      },
    },
  },
  '/v1/onboarding': {
    get: { summary: "The merchant's onboarding state", tags, security: merchant, responses: { 200: json('The state', state), 401: problem, 404: problem } },
  },
  '/v1/applications/{id}/register': {
    post: {
      summary: 'Complete the registration (legal details): lifts the test-mode time limit', tags, security: merchant, parameters: [appParam],
      requestBody: body({ type: 'object', properties: { legal: legalInput } }, false),
      responses: { 200: json('The state', state), ...errors },
    },
  },
  '/v1/applications/{id}/bank': {
    post: {
      summary: "Choose the servicing bank (the bank's requirements are e-mailed)", tags, security: merchant, parameters: [appParam],
      requestBody: body({
        type: 'object', required: ['bank_id'],
        properties: {
          bank_id: { type: 'string' },
          details: { type: 'object', maxProperties: 20, additionalProperties: { type: 'string', maxLength: 500 }, description: "the bank's non-secret contract fields" },
        },
      }),
      responses: { 200: json('The state', state), ...errors },
    },
  },
  '/v1/applications/{id}/production-request': {
    post: {
      summary: 'Ask the operator to switch to production (needs registration and a bank)', tags, security: merchant, parameters: [appParam],
      responses: { 200: json('The state', state), ...errors },
    },
  },
  '/v1/admin/onboarding': {
    get: {
      summary: 'Onboarding state of every application, newest first (operator)', tags, security: admin,
      responses: { 200: json('States', { type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: state } } }), 401: problem },
    },
  },
  '/v1/admin/onboarding/{merchantId}': {
    get: {
      summary: "A merchant's onboarding state and events (operator)", tags, security: admin, parameters: [merchantParam],
      responses: {
        200: json('The state with its events, oldest first', {
          ...state,
          properties: {
            ...state.properties,
            events: {
              type: 'array',
              items: { type: 'object', properties: { action: { type: 'string' }, actor: { type: 'string' }, at: { type: 'string', format: 'date-time' }, data: { type: 'object' } } },
            },
          },
        }),
        401: problem, 404: problem,
      },
    },
  },
  '/v1/admin/onboarding/{merchantId}/contract': {
    post: {
      summary: 'Record the bank contract (credentials stored encrypted, never returned; supersedes the previous one) (operator)', tags, security: admin,
      parameters: [merchantParam],
      requestBody: body({
        type: 'object', required: ['bank_id', 'bank_merchant_id', 'terminal_id'],
        properties: {
          bank_id: { type: 'string' }, bank_merchant_id: { type: 'string', maxLength: 120 }, terminal_id: { type: 'string', maxLength: 120 },
          credentials: { type: 'object', additionalProperties: { type: 'string', maxLength: 2000 }, description: "the bank's other contract fields" },
        },
      }),
      responses: { 201: json('The contract', contract), ...errors },
    },
  },
  '/v1/admin/onboarding/{merchantId}/connection-check': {
    post: {
      summary: "Run the bank adapter's connection check with the contract's credentials (operator)", tags, security: admin, parameters: [merchantParam],
      responses: { 200: json('The contract with the check result', contract), 401: problem, 404: problem, 409: problem },
    },
  },
  '/v1/admin/onboarding/{merchantId}/production': {
    post: {
      summary: 'Switch the merchant to production (needs a contract whose connection check passes) (operator)', tags, security: admin,
      parameters: [merchantParam],
      responses: {
        200: json('The live key (shown once) and the merchant', { type: 'object', properties: { live_secret_key: { type: ['string', 'null'] }, merchant: { type: 'object' } } }),
        401: problem, 404: problem, 409: problem,
      },
    },
  },
};
