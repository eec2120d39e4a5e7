/**
 * Errors that know their code and HTTP status. The error middleware turns them into RFC 9457
 * problem documents; anything else becomes a 500 with no detail.
 */
export interface FieldError {
  /** Dotted path of the field at fault, e.g. "customer.email" or "card.number". */
  readonly field: string;
  readonly message: string;
}

export class PayhubError extends Error {
  readonly code: string;
  readonly status: number;
  readonly fields: readonly FieldError[];
  /** Extra members of the problem document (safe to show). */
  readonly extra: Record<string, unknown>;
  /** Whether `message` may be shown to the client (true for 4xx). */
  readonly expose: boolean;

  constructor(code: string, message: string, opts: {
    status?: number; fields?: readonly FieldError[]; cause?: unknown; extra?: Record<string, unknown>; expose?: boolean;
  } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PayhubError';
    this.code = code;
    this.status = opts.status ?? 500;
    this.fields = opts.fields ?? [];
    this.extra = opts.extra ?? {};
    this.expose = opts.expose ?? this.status < 500;
  }
}

/** 422: input is well-formed JSON but a field is wrong. */
export class ValidationError extends PayhubError {
  constructor(fields: readonly FieldError[], message?: string, code = 'validation_failed') {
    super(code, message ?? `Invalid ${fields.map((f) => f.field).join(', ')}`, { status: 422, fields });
    this.name = 'ValidationError';
  }
}

export const badRequest = (code: string, message: string, fields?: FieldError[]) =>
  new PayhubError(code, message, { status: 400, fields });
export const unauthorized = (code: string, message: string) => new PayhubError(code, message, { status: 401 });
export const forbidden = (code: string, message: string) => new PayhubError(code, message, { status: 403 });
export const notFound = (what: string, code = 'not_found') => new PayhubError(code, `${what} not found`, { status: 404 });
export const conflict = (code: string, message: string, extra?: Record<string, unknown>) =>
  new PayhubError(code, message, { status: 409, extra });
export const invalid = (field: string, message: string, code?: string) => new ValidationError([{ field, message }], undefined, code);

/**
 * Start-up refusals (config, plugins). The message always names the plugin or the key.
 * Printed as `CODE: message` and the process exits non-zero.
 */
export class StartupError extends PayhubError {
  constructor(code: string, message: string, cause?: unknown) {
    super(code, message, { status: 500, cause, expose: true });
    this.name = 'StartupError';
  }
  override toString(): string {
    return `${this.code}: ${this.message}`;
  }
}

export const ERR = {
  CONFIG_INVALID: 'PAYHUB_ERR_CONFIG_INVALID',
  PLUGIN_NOT_FOUND: 'PAYHUB_ERR_PLUGIN_NOT_FOUND',
  PLUGIN_INVALID: 'PAYHUB_ERR_PLUGIN_INVALID',
  PLUGIN_DUPLICATE: 'PAYHUB_ERR_PLUGIN_DUPLICATE',
  PLUGIN_VERSION_MISMATCH: 'PAYHUB_ERR_PLUGIN_VERSION_MISMATCH',
  PLUGIN_DEPENDENCY_MISSING: 'PAYHUB_ERR_PLUGIN_DEPENDENCY_MISSING',
  PLUGIN_DEPENDENCY_CYCLE: 'PAYHUB_ERR_PLUGIN_DEPENDENCY_CYCLE',
  PLUGIN_OPTIONS_INVALID: 'PAYHUB_ERR_PLUGIN_OPTIONS_INVALID',
  PLUGIN_REGISTER_FAILED: 'PAYHUB_ERR_PLUGIN_REGISTER_FAILED',
  PLUGIN_MIGRATION_FAILED: 'PAYHUB_ERR_PLUGIN_MIGRATION_FAILED',
  PLUGIN_READY_FAILED: 'PAYHUB_ERR_PLUGIN_READY_FAILED',
  PLUGIN_READY_TIMEOUT: 'PAYHUB_ERR_PLUGIN_READY_TIMEOUT',
  DATABASE_UNREACHABLE: 'PAYHUB_ERR_DATABASE_UNREACHABLE',
  KEY_MISSING: 'PAYHUB_ERR_KEY_MISSING',
} as const;
