import test from 'ava';
import { createTestHub, definePlugin, TOKENS, type RiskCheck } from '@payhub/core';
import { scriptedMethodPlugin } from '../helpers/inline-method';

/** A risk check that answers by the order's metadata.risk (allow when absent). */
const riskPlugin = definePlugin({
  name: 'test-risk', version: '1.0.0', core: '^1.0.0', kind: 'risk',
  register(ctx) {
    const check: RiskCheck = {
      id: 'test-risk',
      async check(c) {
        const d = (c.order.metadata.risk as 'allow' | 'review' | 'deny' | undefined) ?? 'allow';
        return { decision: d, rules: [{ rule: 'metadata', value: d }], reason: d === 'deny' ? 'blocked by test rule' : undefined };
      },
    };
    ctx.provide(TOKENS.RiskCheck, { useValue: check });
  },
});

async function setup(t: import('ava').ExecutionContext) {
  const calls: Array<{ op: string; attempt: string }> = [];
  const hub = await createTestHub({ inlinePlugins: [scriptedMethodPlugin(calls), riskPlugin] });
  t.teardown(() => hub.close());
  const m = await hub.createMerchant();
  const pay = async (n: string, risk: string) => {
    const o = await hub.api('POST', '/v1/orders', { key: m.key, body: { order_number: n, amount: 5000, currency: 'RUB', metadata: { risk } } });
    const p = await hub.api('POST', `/v1/orders/${o.body.id}/payments`, { key: m.key, body: { method: 'scripted' } });
    return { order: o.body.id as string, payment: p.body };
  };
  return { hub, m, calls, pay };
}

test('deny declines without calling the provider', async (t) => {
  const { hub, m, calls, pay } = await setup(t);
  const { order, payment } = await pay('r-1', 'deny');
  t.is(payment.status, 'declined');
  t.is(payment.decline_reason, 'risk_denied');
  t.deepEqual(calls, []);
  t.is((await hub.api('GET', `/v1/orders/${order}`, { key: m.key })).body.status, 'created');
});

test('review authorizes only; approve captures and the order is paid', async (t) => {
  const { hub, m, calls, pay } = await setup(t);
  const { order, payment } = await pay('r-2', 'review');
  t.is(payment.status, 'authorized');
  t.is(payment.details.risk_review, 'pending');
  t.is((await hub.api('GET', `/v1/orders/${order}`, { key: m.key })).body.status, 'authorized');
  const r = await hub.api('POST', `/v1/orders/${order}/review`, { key: m.key, body: { decision: 'approve' } });
  t.is(r.status, 200, r.text);
  t.is(r.body.status, 'paid');
  t.deepEqual(calls.map((c) => c.op), ['start', 'capture']);
  const again = await hub.api('POST', `/v1/orders/${order}/review`, { key: m.key, body: { decision: 'reject' } });
  t.is(again.status, 409);
  t.is(again.body.code, 'not_in_review');
});

test('review then reject voids the authorization', async (t) => {
  const { hub, m, pay } = await setup(t);
  const { order } = await pay('r-3', 'review');
  const r = await hub.api('POST', `/v1/orders/${order}/review`, { key: m.key, body: { decision: 'reject' } });
  t.is(r.status, 200, r.text);
  t.is(r.body.status, 'canceled');
  t.is(r.body.payments[0].status, 'canceled');
  t.is(r.body.payments[0].decline_reason, 'risk_rejected');
  const b = await hub.api('GET', '/v1/balance', { key: m.key });
  t.deepEqual(b.body.balances, [{ currency: 'RUB', pending: 0, available: 0 }]);
});
