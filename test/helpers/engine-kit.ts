import type { TestFn } from 'ava';
import { createTestHub, type TestHub, type TestHubOptions } from '@payhub/core';
import { scriptedMethodPlugin, type ScriptedOptions } from './inline-method';
import { checkInvariants } from '../engine/invariants';

export interface EngineHub extends TestHub {
  /** Provider calls of the scripted method, in order. */
  readonly calls: Array<{ op: string; attempt: string }>;
}

/**
 * Hubs of one test file. Every hub stays open until the file's tests are done; then G1–G9 are checked over each
 * hub's database and its log lines, and the hubs are closed (ava runs each file in its own process).
 */
export function engineHubs(test: TestFn) {
  const hubs: TestHub[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  test.after.always('G1–G9 hold on every database this file used', async (t) => {
    try {
      for (const h of hubs) {
        const problems = await checkInvariants(h.db, { logs: h.logs });
        t.deepEqual(problems, [], `invariants on ${h.kind} ${h.databaseUrl}`);
      }
      t.true(hubs.length > 0);
    } finally {
      await Promise.all(hubs.map((h) => h.close().catch(() => undefined)));
      for (const c of cleanups) await c().catch(() => undefined);
    }
  });
  return {
    /** A hub with the scripted method (plus `opts.inlinePlugins`). */
    async hub(opts: TestHubOptions & { scripted?: ScriptedOptions } = {}): Promise<EngineHub> {
      const calls: Array<{ op: string; attempt: string }> = [];
      const h = await createTestHub({ ...opts, inlinePlugins: [scriptedMethodPlugin(calls, opts.scripted), ...(opts.inlinePlugins ?? [])] });
      hubs.push(h);
      return Object.assign(h, { calls });
    },
    /** Tracks a hub made elsewhere (restarts) so it is checked and closed with the others. */
    track<T extends TestHub>(h: T): T {
      hubs.push(h);
      return h;
    },
    /** Runs after the hubs are closed (dropping databases made with createTestDatabase). */
    cleanup(fn: () => Promise<void>): void {
      cleanups.push(fn);
    },
  };
}

let seq = 0;
/** A unique order number. */
export const orderNo = (p = 'o') => `${p}-${process.pid}-${++seq}`;

/** Creates an order through the API and returns its JSON (asserting 201). */
export async function newOrder(h: TestHub, key: string, body: Record<string, unknown> = {}) {
  const r = await h.api('POST', '/v1/orders', { key, body: { order_number: orderNo(), amount: 10000, currency: 'RUB', ...body } });
  if (r.status !== 201) throw new Error(`order create failed: ${r.status} ${r.text}`);
  return r.body;
}

/** Starts a scripted payment on an order. */
export async function pay(h: TestHub, key: string, orderId: string, script?: unknown[], headers?: Record<string, string>) {
  return h.api('POST', `/v1/orders/${orderId}/payments`, { key, headers, body: { method: 'scripted', ...(script ? { script } : {}) } });
}

/** Order transitions as recorded, oldest first: ["created", "processing", …]. */
export async function orderPath(h: TestHub, orderId: string): Promise<string[]> {
  const rows = await h.db('transitions').where({ entity: 'order', entity_id: orderId }).orderBy('id');
  return rows.map((r: { to_status: string }) => r.to_status);
}

export async function attemptPath(h: TestHub, attemptId: string): Promise<string[]> {
  const rows = await h.db('transitions').where({ entity: 'attempt', entity_id: attemptId }).orderBy('id');
  return rows.map((r: { to_status: string }) => r.to_status);
}

/** Distinct ledger postings of a kind for a reference (attempt or refund id). */
export async function postings(h: TestHub, refId: string, kind: string): Promise<number> {
  const rows = await h.db('ledger_entries').where({ ref_id: refId, kind }).distinct('posting_id');
  return rows.length;
}

export async function eventTypes(h: TestHub, entityId: string): Promise<string[]> {
  const rows = await h.db('events').where({ entity_id: entityId }).orderBy([{ column: 'entity_version' }, { column: 'created_at' }]);
  return rows.map((r: { type: string }) => r.type);
}

/** Moves the hub's clock past the resolver's first check and runs one worker pass. */
export async function resolveLater(h: TestHub, ms = 61_000): Promise<void> {
  h.clock.advance(ms);
  await h.runWorkers();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A latch a test opens by hand. */
export function latch() {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { wait: () => p, open };
}
