'use strict';
/*
 * The card payment scenario with autocannon as a library: each client (connection) loops over
 *   POST /v1/orders                       (fresh Idempotency-Key and order number)
 *   POST /v1/orders/:id/payments          (the id of the order just created; fresh Idempotency-Key)
 * A paid order is a completed pair whose payment answered 201 with status "captured".
 */
const autocannon = require('autocannon');

const EXP_YEAR = new Date().getUTCFullYear() + 3;
const CARD = { number: '4111111111111111', exp_month: 12, exp_year: EXP_YEAR, cvc: '123', holder: 'IVAN PETROV' };
const PAY_BODY = JSON.stringify({ method: 'card', card: CARD });

/** Nearest-rank percentile of an unsorted array (sorted in place). */
function percentiles(values, ps) {
  const a = Float64Array.from(values).sort();
  const out = {};
  for (const p of ps) out[`p${p}`] = a.length ? round(a[Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1))]) : null;
  out.max = a.length ? round(a[a.length - 1]) : null;
  out.mean = a.length ? round(a.reduce((s, v) => s + v, 0) / a.length) : null;
  out.count = a.length;
  return out;
}

function round(v, d = 2) {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

let runSeq = 0;

/**
 * Runs the scenario against http://127.0.0.1:<port> with `connections` clients for `durationSec` seconds.
 * Bounded in time (duration, per-request timeout) and in count (maxConnectionRequests).
 */
async function runPairs({ port, key, connections, durationSec, label = 'run' }) {
  const prefix = `b${process.pid.toString(36)}${(++runSeq).toString(36)}${Date.now().toString(36)}`;
  let seq = 0;
  const lat = { order: [], payment: [] };
  const res = { paid: 0, notCaptured: 0, orderFailures: 0, paymentFailures: 0, skippedPayments: 0, statuses: {} };
  const headers = { 'content-type': 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  const requests = [
    {
      method: 'POST',
      path: '/v1/orders',
      setupRequest(req, ctx) {
        const n = ++seq;
        ctx.orderId = null;
        return {
          ...req,
          headers: { ...headers, 'idempotency-key': `${prefix}-o${n}` },
          body: JSON.stringify({ order_number: `${prefix}-${n}`, amount: 19900, currency: 'RUB' }),
        };
      },
      onResponse(status, body, ctx) {
        if (status === 201) {
          try {
            ctx.orderId = JSON.parse(body).id;
          } catch {
            res.orderFailures++;
          }
        } else {
          res.orderFailures++;
          res.statuses[`order ${status}`] = (res.statuses[`order ${status}`] || 0) + 1;
          if (res.firstOrderError === undefined) res.firstOrderError = String(body).slice(0, 300);
        }
      },
    },
    {
      method: 'POST',
      setupRequest(req, ctx) {
        if (!ctx.orderId) {
          res.skippedPayments++;
          return null; // back to the first request of the sequence
        }
        return {
          ...req,
          path: `/v1/orders/${ctx.orderId}/payments`,
          headers: { ...headers, 'idempotency-key': `${prefix}-p${ctx.orderId}` },
          body: PAY_BODY,
        };
      },
      onResponse(status, body) {
        if (status === 201) {
          let st = null;
          try {
            st = JSON.parse(body).status;
          } catch { /* counted below */ }
          if (st === 'captured') res.paid++;
          else res.notCaptured++;
        } else {
          res.paymentFailures++;
          res.statuses[`payment ${status}`] = (res.statuses[`payment ${status}`] || 0) + 1;
          if (res.firstPaymentError === undefined) res.firstPaymentError = String(body).slice(0, 300);
        }
      },
    },
  ];
  const perConn = 2 * Math.ceil((durationSec * 20_000) / connections);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const instance = autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    pipelining: 1,
    duration: durationSec,
    timeout: 10,
    maxConnectionRequests: perConn,
    requests,
  });
  instance.on('response', (client, statusCode, resBytes, responseTime) => {
    const kind = client.requestIterator.currentRequestIndex === 0 ? 'order' : 'payment';
    lat[kind].push(responseTime);
  });
  const r = await instance;
  const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const duration = r.duration || durationSec;
  return {
    label,
    connections,
    durationSec: round(duration),
    paidOrdersPerSec: round(res.paid / duration, 1),
    paidOrders: res.paid,
    requestsPerSec: round(r.requests.total / duration, 1),
    requests: r.requests.total,
    latencyMs: {
      order: percentiles(lat.order, [50, 95, 99]),
      payment: percentiles(lat.payment, [50, 95, 99]),
    },
    errors: {
      total: r.non2xx + r.errors + r.timeouts + res.notCaptured,
      non2xx: r.non2xx,
      socketErrors: r.errors,
      timeouts: r.timeouts,
      notCaptured: res.notCaptured,
      statuses: res.statuses,
      ...(res.firstOrderError !== undefined ? { firstOrderError: res.firstOrderError } : {}),
      ...(res.firstPaymentError !== undefined ? { firstPaymentError: res.firstPaymentError } : {}),
    },
    loadGeneratorCpuPct: round((100 * (cpu.user + cpu.system)) / 1e6 / wallSec, 1),
  };
}

module.exports = { runPairs, percentiles, round };
