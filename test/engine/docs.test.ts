import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ROOT } from '../helpers/paths';
import { internal } from '../helpers/internal';

const { ORDER_TRANSITIONS, ATTEMPT_TRANSITIONS, TERMINAL_ORDER, TERMINAL_ATTEMPT } = internal<typeof import('../../core/src/engine/state')>('engine/state');
const doc = fs.readFileSync(path.join(ROOT, 'docs', 'payments-lifecycle.md'), 'utf8');

/** The stateDiagram-v2 blocks of the doc, keyed by their "%% <name> lifecycle" comment, as sets of "a --> b". */
function diagrams(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const m of doc.matchAll(/```mermaid\n([\s\S]*?)```/g)) {
    const body = m[1]!;
    if (!/^\s*stateDiagram-v2/.test(body)) continue;
    const name = /%%\s*(\w+) lifecycle/.exec(body)?.[1] ?? '?';
    const edges = new Set<string>();
    for (const e of body.matchAll(/^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::.*)?$/gm)) edges.add(`${e[1]} --> ${e[2]}`);
    out.set(name, edges);
  }
  return out;
}

for (const [name, table, terminal, first] of [
  ['order', ORDER_TRANSITIONS, TERMINAL_ORDER, 'created'],
  ['attempt', ATTEMPT_TRANSITIONS, TERMINAL_ATTEMPT, 'pending'],
] as const) {
  test(`docs/payments-lifecycle.md: the ${name} diagram has exactly the edges of the table`, (t) => {
    const edges = diagrams().get(name);
    t.truthy(edges, `a stateDiagram-v2 block marked "%% ${name} lifecycle"`);
    const expected = new Set<string>([`[*] --> ${first}`]);
    for (const [from, tos] of Object.entries(table as Record<string, readonly string[]>)) for (const to of tos) expected.add(`${from} --> ${to}`);
    for (const s of terminal as ReadonlySet<string>) expected.add(`${s} --> [*]`);
    t.deepEqual([...expected].filter((e) => !edges!.has(e)), [], 'table edges missing from the diagram');
    t.deepEqual([...edges!].filter((e) => !expected.has(e)), [], 'diagram edges not in the table');
  });
}

test('docs/payments-lifecycle.md names every order and attempt status and the webhook headers', (t) => {
  for (const s of [...Object.keys(ORDER_TRANSITIONS), ...Object.keys(ATTEMPT_TRANSITIONS)]) t.true(doc.includes(`\`${s}\``), s);
  for (const h of ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'Idempotency-Key', 'Idempotent-Replayed']) t.true(doc.includes(h), h);
});
