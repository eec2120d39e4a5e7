import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { PayhubError } from '../errors';
import { scrubText } from '../logging';

/** RFC 9457 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  code: string;
  instance?: string;
  errors?: Array<{ field: string; message: string }>;
  request_id?: string;
  [k: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
  429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
};

export function problemOf(err: unknown, requestId?: string): Problem {
  if (err instanceof PayhubError) {
    const e = err;
    return {
      type: `https://payhub.dev/problems/${e.code}`,
      title: TITLES[e.status] ?? 'Error',
      status: e.status,
      detail: e.expose ? scrubText(e.message) : 'An internal error occurred',
      code: e.code,
      ...(e.fields.length ? { errors: e.fields.map((f) => ({ field: f.field, message: scrubText(f.message) })) } : {}),
      ...(e.expose ? e.extra : {}),
      request_id: requestId,
    };
  }
  // Errors thrown by koa / body parser (http-errors): expose only 4xx messages, mapped to stable codes.
  const e = err as { status?: number; statusCode?: number; type?: string; message?: string } | undefined;
  const status = e?.status ?? e?.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const code = e?.type === 'entity.parse.failed' ? 'malformed_json'
      : e?.type === 'entity.too.large' ? 'body_too_large'
      : status === 415 ? 'unsupported_media_type' : status === 404 ? 'not_found' : status === 405 ? 'method_not_allowed' : 'bad_request';
    const detail = code === 'malformed_json' ? 'The request body is not valid JSON'
      : code === 'body_too_large' ? 'The request body is too large' : scrubText(String(e?.message ?? 'Bad request'));
    return { type: `https://payhub.dev/problems/${code}`, title: TITLES[status] ?? 'Error', status, detail, code, request_id: requestId };
  }
  return { type: 'https://payhub.dev/problems/internal_error', title: TITLES[500]!, status: 500, detail: 'An internal error occurred', code: 'internal_error', request_id: requestId };
}

/** First middleware: every error becomes application/problem+json; never a stack trace. */
export function problemMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.type = 'application/problem+json';
        ctx.body = problemOf(new PayhubError('not_found', `No route for ${ctx.method} ${ctx.path}`, { status: 404 }), ctx.state.requestId);
      }
    } catch (err) {
      const p = problemOf(err, ctx.state.requestId);
      if (p.status >= 500) {
        logger.error({ err: scrubText(String((err as Error)?.stack ?? err)), requestId: ctx.state.requestId }, 'request failed');
      }
      ctx.status = p.status;
      ctx.type = 'application/problem+json';
      ctx.body = p;
      const retryAfter = (err as PayhubError)?.extra?.retry_after;
      if (typeof retryAfter === 'number') ctx.set('Retry-After', String(retryAfter));
    }
  };
}
