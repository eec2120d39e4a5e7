import { definePlugin, TOKENS, type MethodOutcome, type PaymentMethod } from '@payhub/core';

/**
 * A payment method whose provider answers are scripted per attempt through the input `script`
 * (a list of outcomes, consumed by start/status/capture/cancel in call order). Used to drive the engine's state
 * machine through every outcome class; card flows are tested against the sandbox bank instead.
 */
export function scriptedMethodPlugin(calls: Array<{ op: string; attempt: string }> = []) {
  const scripts = new Map<string, MethodOutcome[]>();
  const next = (op: string, attempt: string, dflt: MethodOutcome): MethodOutcome => {
    calls.push({ op, attempt });
    const s = scripts.get(attempt);
    return s && s.length ? s.shift()! : dflt;
  };
  const method: PaymentMethod<{ script: MethodOutcome[] }> = {
    id: 'scripted',
    displayName: { en: 'Scripted', ru: 'Сценарий' },
    supports: { capture: true, partialCapture: true, cancel: true, refund: true, partialRefund: true },
    async prepare(_ctx, input) {
      return { methodData: { scripted: true }, payload: { script: (input.script as MethodOutcome[]) ?? [] } };
    },
    async start(ctx, payload) {
      scripts.set(ctx.attempt.id, [...payload.script]);
      return next('start', ctx.attempt.id, { kind: 'processed', status: ctx.order.captureMode === 'manual' ? 'authorized' : 'captured' });
    },
    async status(ctx) {
      return next('status', ctx.attempt.id, { kind: 'unknown' });
    },
    async capture(ctx) {
      return next('capture', ctx.attempt.id, { kind: 'processed', status: 'captured' });
    },
    async cancel(ctx) {
      return next('cancel', ctx.attempt.id, { kind: 'canceled' });
    },
    async refund(ctx) {
      calls.push({ op: 'refund', attempt: ctx.attempt.id });
      return { kind: 'processed' };
    },
  };
  return definePlugin({
    name: 'scripted-method',
    version: '1.0.0',
    core: '^1.0.0',
    kind: 'payment-method',
    register(ctx) {
      ctx.provide(TOKENS.PaymentMethod, { useValue: method as PaymentMethod });
    },
  });
}
