/**
 * OpenAPI 3.1 path items of this plugin's JSON API (merged into the hub's GET /openapi.json).
 * /pki/ca.pem and /pki/crl.pem are PEM downloads, not JSON API routes.
 */
const problem = { $ref: '#/components/responses/Problem' };
const json = (description: string, schema: unknown) => ({ description, content: { 'application/json': { schema } } });
const body = (schema: unknown) => ({ required: true, content: { 'application/json': { schema } } });
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const admin = [{ adminToken: [] }];
const tags = ['personal accounts'];
const errors = { 400: problem, 401: problem, 404: problem, 409: problem, 422: problem };

const provider = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'pap_…' }, object: { const: 'account_provider' }, name: { type: 'string' },
    bank_adapter: { type: 'string' }, currencies: { type: 'array', items: { type: 'string' } }, created_at: { type: 'string', format: 'date-time' },
  },
};
const account = {
  type: 'object',
  properties: {
    id: { type: 'string', description: 'acc_…' }, object: { const: 'personal_account' }, provider_id: { type: 'string' }, holder: { type: 'string' },
    account_number_last4: { type: 'string' }, status: { enum: ['active', 'closed'] },
    created_at: { type: 'string', format: 'date-time' }, updated_at: { type: 'string', format: 'date-time' },
  },
};
const certificate = {
  type: 'object',
  properties: {
    serial: { type: 'string' }, object: { const: 'account_certificate' }, account_id: { type: 'string' }, status: { enum: ['active', 'revoked'] },
    issued_via: { enum: ['csr', 'pkcs12'] }, fingerprint_sha256: { type: 'string' },
    not_before: { type: 'string', format: 'date-time' }, not_after: { type: 'string', format: 'date-time' },
    revoked_at: { type: ['string', 'null'], format: 'date-time' }, revocation_reason: { type: ['string', 'null'] },
    certificate: { type: 'string', description: 'PEM' }, created_at: { type: 'string', format: 'date-time' },
  },
};
const reasons = ['unspecified', 'key_compromise', 'affiliation_changed', 'superseded', 'cessation_of_operation', 'privilege_withdrawn'];
const list = (item: unknown) => ({ type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: item } } });

export const openapi = {
  '/v1/admin/account-providers': {
    post: {
      summary: 'Create an account provider (a bank adapter and the currencies it serves)', tags, security: admin,
      requestBody: body({
        type: 'object', required: ['name', 'bank_adapter', 'currencies'], additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200 },
          bank_adapter: { type: 'string', maxLength: 100, description: 'id of a loaded bank adapter, e.g. sandbox-bank' },
          currencies: { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', pattern: '^[A-Z]{3}$' } },
        },
      }),
      responses: { 201: json('The provider', provider), ...errors },
    },
    get: { summary: 'List account providers', tags, security: admin, responses: { 200: json('Providers, oldest first', list(provider)), 401: problem } },
  },
  '/v1/accounts': {
    post: {
      summary: 'Open a personal account with a provider', tags, security: admin,
      requestBody: body({
        type: 'object', required: ['provider_id', 'holder', 'external_account_number'], additionalProperties: false,
        properties: {
          provider_id: { type: 'string', maxLength: 40 }, holder: { type: 'string', minLength: 1, maxLength: 200 },
          external_account_number: { type: 'string', pattern: '^[A-Za-z0-9_-]{4,64}$', description: 'stored encrypted; only the last 4 characters are shown' },
        },
      }),
      responses: { 201: json('The account', account), ...errors },
    },
  },
  '/v1/accounts/{id}': {
    get: { summary: 'Get a personal account', tags, security: admin, parameters: [pathParam('id', 'acc_…')], responses: { 200: json('The account', account), ...errors } },
    delete: {
      summary: 'Close a personal account (its certificates can no longer pay)', tags, security: admin, parameters: [pathParam('id', 'acc_…')],
      responses: { 200: json('The closed account', account), ...errors },
    },
  },
  '/v1/accounts/{id}/certificates': {
    post: {
      summary: 'Issue a client certificate from a CSR, or with a key pair made here (PKCS#12 bundle, returned once)', tags, security: admin,
      parameters: [pathParam('id', 'acc_…')],
      requestBody: body({
        type: 'object', additionalProperties: false, description: 'Exactly one of csr or password.',
        properties: {
          csr: { type: 'string', description: 'PKCS#10 certificate request (PEM); preferred: the key never leaves the holder' },
          password: { type: 'string', pattern: '^[\\x20-\\x7e]{12,128}$', description: 'protects the PKCS#12 bundle; never stored' },
          lifetime_days: { type: 'integer', minimum: 1, description: 'at most the plugin option certLifetimeDays (default 365)' },
        },
        oneOf: [{ required: ['csr'] }, { required: ['password'] }],
      }),
      responses: {
        201: json('The certificate, the CA certificate and, for a password request, the PKCS#12 bundle (base64)', {
          ...certificate,
          properties: { ...certificate.properties, ca_certificate: { type: 'string', description: 'PEM' }, pkcs12: { type: 'string', contentEncoding: 'base64' } },
        }),
        ...errors,
      },
    },
    get: {
      summary: "List an account's certificates (newest first)", tags, security: admin, parameters: [pathParam('id', 'acc_…')],
      responses: { 200: json('Certificates', list(certificate)), ...errors },
    },
  },
  '/v1/accounts/{id}/certificates/{serial}': {
    delete: {
      summary: 'Revoke a certificate at once (it enters the CRL)', tags, security: admin,
      parameters: [
        pathParam('id', 'acc_…'), pathParam('serial', 'certificate serial (hex)'),
        { name: 'reason', in: 'query', required: false, description: 'or {"reason": …} in a JSON body', schema: { enum: reasons, default: 'unspecified' } },
      ],
      requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { reason: { enum: reasons } } } } } },
      responses: { 200: json('The revoked certificate', certificate), ...errors },
    },
  },
  '/v1/personal-account/link/{order_id}': {
    get: {
      summary: "Link to the mutual-TLS payment page of an order (the buyer's browser presents its certificate there)", tags, security: [],
      parameters: [{ name: 'order_id', in: 'path', required: true, schema: { type: 'string', pattern: '^ord_[A-Za-z0-9]{1,64}$' } }],
      responses: {
        200: json('The URL on the mutual-TLS listener', { type: 'object', required: ['url'], properties: { url: { type: 'string', format: 'uri' } } }),
        422: problem, 503: problem,
      },
    },
  },
};
