/**
 * OpenAPI 3.1 path items of this plugin's JSON API (merged into the hub's GET /openapi.json).
 * The pages (/pay/…, /payhub.js, /demo) are HTML and assets, not JSON API routes.
 */
const problem = { $ref: '#/components/responses/Problem' };
const json = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });
const merchant = [{ secretKey: [] }];
const tags = ['checkout page'];

const hex = { type: 'string', pattern: '^#[0-9a-fA-F]{6}$' };
const theme = {
  type: 'object', additionalProperties: false,
  description: 'Every field is optional; missing ones take the defaults. A bad field is refused with a 422 naming it.',
  properties: {
    logo_url: { type: 'string', maxLength: 65536, description: 'https URL or data:image/(png|jpeg|gif|webp|svg+xml);base64,…' },
    colors: { type: 'object', additionalProperties: false, properties: { primary: hex, background: hex, text: hex, error: hex } },
    font_stack: { type: 'string', pattern: '^[A-Za-z0-9 ,\'"\\-]{1,200}$' },
    radius: { type: 'integer', minimum: 0, maximum: 32, description: 'pixels' },
    custom_css: { type: 'string', description: 'at most 10 KB; no "<", backslashes, @import, expression(), javascript: or url() other than https:/data:image' },
    frame_ancestors: { type: 'array', maxItems: 10, items: { type: 'string', description: 'https origin, e.g. https://shop.example' } },
  },
};

export const openapi = {
  '/v1/checkout-theme': {
    get: {
      summary: "The merchant's payment-page theme", tags, security: merchant,
      responses: {
        200: json('The theme ({} when none is configured) and the URL of its stylesheet', {
          type: 'object',
          properties: { merchant_id: { type: 'string' }, configured: { type: 'boolean' }, theme, stylesheet: { type: 'string', format: 'uri' } },
        }),
        401: problem,
      },
    },
    put: {
      summary: "Replace the merchant's payment-page theme", tags, security: merchant,
      requestBody: { required: true, content: { 'application/json': { schema: theme } } },
      responses: {
        200: json('The stored theme', { type: 'object', properties: { merchant_id: { type: 'string' }, configured: { const: true }, theme } }),
        400: problem, 401: problem, 422: problem,
      },
    },
  },
};
