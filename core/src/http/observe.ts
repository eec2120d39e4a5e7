import crypto from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import client from 'prom-client';

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Honours a sane X-Request-Id or generates one; echoes it on the response. */
export function requestId(): Middleware {
  return async (ctx, next) => {
    const given = ctx.get('X-Request-Id');
    const id = given && REQUEST_ID_RE.test(given) ? given : crypto.randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    await next();
  };
}

/** The matched route template (not the raw path: keeps metric labels bounded and ids out of logs). */
export function routeOf(ctx: { _matchedRoute?: unknown; state: Record<string, unknown> }): string {
  const r = ctx._matchedRoute ?? ctx.state.route;
  return typeof r === 'string' ? r : 'unmatched';
}

/** Metrics registry per app, so several hubs in one process (tests) do not collide. */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const requests = new client.Counter({
    name: 'payhub_http_requests_total', help: 'HTTP requests by route, method and status',
    labelNames: ['method', 'route', 'status'] as const, registers: [registry],
  });
  const duration = new client.Histogram({
    name: 'payhub_http_request_duration_seconds', help: 'HTTP request latency by route',
    labelNames: ['method', 'route'] as const, registers: [registry],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const payments = new client.Counter({
    name: 'payhub_payment_attempts_total', help: 'Payment attempts by method and resulting status',
    labelNames: ['method', 'status'] as const, registers: [registry],
  });
  return { registry, requests, duration, payments };
}
export type Metrics = ReturnType<typeof createMetrics>;

/** One JSON log line per request (id, route, status, duration) and the request metrics. */
export function observe(logger: Logger, metrics: Metrics, logRequests: boolean): Middleware {
  return async (ctx, next) => {
    const start = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const route = routeOf(ctx as never);
      metrics.requests.inc({ method: ctx.method, route, status: String(ctx.status) });
      metrics.duration.observe({ method: ctx.method, route }, seconds);
      if (logRequests) {
        logger.info({
          requestId: ctx.state.requestId, method: ctx.method, route, status: ctx.status,
          durationMs: Math.round(seconds * 1e6) / 1e3,
        }, 'request');
      }
    }
  };
}
