import crypto from 'node:crypto';
import path from 'node:path';
import { createTestHub } from '@payhub/core';
import type { PayhubPlugin } from '@payhub/core';
import { OPERATOR } from '../src/operator';
import type { TopupOperator } from '../src/operator';
import type { SandboxOperator } from '../src/sandbox';

export const ROOT = path.resolve(__dirname, '../../../..');
export const SELF = path.resolve(ROOT, 'plugins/mobile-topup');
export const SANDBOX = path.resolve(ROOT, 'plugins/sandbox-bank');
export const CARD = path.resolve(ROOT, 'plugins/card');

export type Hub = Awaited<ReturnType<typeof createTestHub>>;

export const BASE_OPTIONS = { sandbox: { timeoutMs: 300 }, retryDelays: [5, 5] };

export async function startHub(opts: { options?: Record<string, unknown>; inline?: PayhubPlugin<unknown>[]; databaseUrl?: string } = {}) {
  return createTestHub({
    plugins: [{ resolve: SANDBOX }, { resolve: CARD }, { resolve: SELF, options: { ...BASE_OPTIONS, ...(opts.options ?? {}) } }],
    ...(opts.inline ? { inlinePlugins: opts.inline } : {}),
    ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
  });
}

/** The sandbox emulator's state, read over its HTTP API. */
export async function emulator(hub: Hub): Promise<{ credits: Array<{ reference: string; state: string }>; calls: Record<string, number> }> {
  const op = hub.container.resolveAll<TopupOperator>(OPERATOR).find((o) => o.id === 'sandbox-operator') as SandboxOperator;
  const res = await fetch(`${op.endpoint()}/credits`);
  return (await res.json()) as { credits: Array<{ reference: string; state: string }>; calls: Record<string, number> };
}

export const admin = (hub: Hub) => ({ authorization: `Bearer ${hub.config.adminToken}` });

export async function run(hub: Hub) {
  const r = await hub.api('POST', '/v1/topups/run', { headers: admin(hub) });
  if (r.status !== 200) throw new Error(`run failed: ${r.status} ${r.text}`);
}

export async function terminal(hub: Hub, key: string) {
  const r = await hub.api('POST', '/v1/topup-terminals', { key, body: { name: 'Kiosk 1' } });
  if (r.status !== 201) throw new Error(r.text);
  return r.body as { id: string; secret: string };
}

export function signed(hub: Hub, t: { id: string; secret: string }, body: Record<string, unknown>, o: { ts?: number; secret?: string } = {}) {
  const raw = JSON.stringify(body);
  const ts = String(o.ts ?? Math.floor(hub.clock.now().getTime() / 1000));
  const sig = crypto.createHmac('sha256', o.secret ?? t.secret).update(`${ts}.${raw}`).digest('hex');
  return hub.api('POST', '/v1/topup-terminals/cash-in', { raw, headers: { 'X-Terminal-Id': t.id, 'X-Timestamp': ts, 'X-Signature': sig } });
}
