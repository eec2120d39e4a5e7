import { definePlugin, TOKENS, type MethodOutcome, type PaymentMethod, type RefundOutcome } from '@payhub/core';

/** A script entry: an outcome, or `{ kind: 'throw' }` (the provider call fails: the engine must treat it as unknown). */
export type ScriptStep = MethodOutcome | { kind: 'throw'; message?: string };

export interface ScriptedOptions {
  /** Awaited before each provider call answers (tests hold a call open with it). */
  gate?: (op: string, attempt: string) => Promise<void> | void;
  /** Refund answers in call order (default: processed). */
  refunds?: RefundOutcome[];
  /** Refund status answers in call order (default: processed). */
  refundStatuses?: RefundOutcome[];
}

/**
 * A payment method whose provider answers are scripted per attempt through the input `script`
 * (a list of outcomes, consumed by start/status/capture/cancel in call order). Used to drive the engine's state
 * machine through every outcome class; card flows are tested against the sandbox bank instead.
 */
export function scriptedMethodPlugin(calls: Array<{ op: string; attempt: string }> = [], opts: ScriptedOptions = {}) {
  const scripts = new Map<string, ScriptStep[]>();
  const next = async (op: string, attempt: string, dflt: MethodOutcome): Promise<MethodOutcome> => {
    calls.push({ op, attempt });
    if (opts.gate) await opts.gate(op, attempt);
    const s = scripts.get(attempt);
    const step = s && s.length ? s.shift()! : dflt;
    if (step.kind === 'throw') throw new Error(step.message ?? 'provider timeout');
    return step;
  };
  const method: PaymentMethod<{ script: ScriptStep[] }> = {
    id: 'scripted',
    displayName: { en: 'Scripted', ru: 'Сценарий' },
    supports: { capture: true, partialCapture: true, cancel: true, refund: true, partialRefund: true },
    // Its prepare writes nothing: the engine claims the Idempotency-Key in phase 1, as for cards.
    prepareIsReadOnly: true,
    async prepare(_ctx, input) {
      return { methodData: { scripted: true }, payload: { script: (input.script as ScriptStep[]) ?? [] } };
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
      if (opts.gate) await opts.gate('refund', ctx.attempt.id);
      return opts.refunds?.shift() ?? { kind: 'processed' };
    },
    async refundStatus(ctx) {
      calls.push({ op: 'refundStatus', attempt: ctx.attempt.id });
      return opts.refundStatuses?.shift() ?? { kind: 'processed' };
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
