import type { Knex } from 'knex';
import { kindOf } from '@payhub/core';
import { internal } from '../helpers/internal';

type StateMod = typeof import('../../core/src/engine/state');
const { ORDER_TRANSITIONS, ATTEMPT_TRANSITIONS, TERMINAL_ORDER, TERMINAL_ATTEMPT } = internal<StateMod>('engine/state');

/** Refund transitions the engine may record (pending/unknown are open; succeeded/failed are final). */
const REFUND_TRANSITIONS: Record<string, readonly string[]> = {
  pending: ['unknown', 'succeeded', 'failed'],
  unknown: ['pending', 'succeeded', 'failed'],
  succeeded: [],
  failed: [],
};

/* eslint-disable @typescript-eslint/no-explicit-any */
type Row = Record<string, any>;

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$/;
/** 13–19 digits in a row, or written in groups of four (last group shorter) or 4-6-5, split by spaces or dashes. */
const PAN_RUN = /(?<!\d)(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5})(?!\d)/g;
/** UUIDs (request ids) can hold digit-only groups; they are not card numbers. */
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const CVC_FIELD = /["']?\b(cvc2?|cvv2?|cvn|csc|card_?code|security_?code)\b["']?\s*[:=]/i;
/** Columns that only ever hold a keyed hash or ciphertext (hex/base64 noise could look like digits). */
const OPAQUE_COLUMN = /(_hash|_enc)$/;

export function luhn(d: string): boolean {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let x = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) {
      x *= 2;
      if (x > 9) x -= 9;
    }
    sum += x;
  }
  return sum % 10 === 0;
}

/** Clear card numbers (Luhn-valid 13–19 digit runs) in a text. */
export function findPans(s: string): string[] {
  const out: string[] = [];
  for (const m of s.replace(UUID, 'uuid').matchAll(PAN_RUN)) {
    const d = m[0].replace(/\D/g, '');
    if (d.length >= 13 && d.length <= 19 && luhn(d)) out.push(m[0]);
  }
  return out;
}

export function hasCvcField(s: string): boolean {
  return CVC_FIELD.test(s);
}

async function tables(db: Knex): Promise<string[]> {
  if (kindOf(db) === 'postgres') {
    const r = await db.raw("select table_name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'");
    return (r.rows as Array<{ table_name: string }>).map((x) => x.table_name);
  }
  const r = await db.raw("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'");
  return (r as Array<{ name: string }>).map((x) => x.name);
}

const num = (v: unknown) => Number(v ?? 0);

/**
 * Checks G1–G9 over a hub's database and returns every violation found (empty when all hold).
 * G1 balanced postings; G2 derived amounts match the ledger; G3 no negative available balance; G4 capture/refund
 * bounds; G5 one effect per order (one captured/authorized attempt, one capture posting); G6 every transition in
 * the tables, chained, ending in the row's status; G7 one event per order version; G8 no clear PAN or CVC field in
 * any column (and in `logs` when given); G9 integer money, UTC timestamps.
 */
export async function checkInvariants(db: Knex, opts: { logs?: readonly string[] } = {}): Promise<string[]> {
  const v: string[] = [];
  const orders: Row[] = await db('orders');
  const attempts: Row[] = await db('payment_attempts');
  const refunds: Row[] = await db('refunds');
  const entries: Row[] = await db('ledger_entries');
  const transitions: Row[] = await db('transitions').orderBy('id');
  const events: Row[] = await db('events');

  // G1: every posting balanced per currency, at least two legs, non-negative integer legs.
  const postings = new Map<string, Row[]>();
  for (const e of entries) postings.set(e.posting_id, [...(postings.get(e.posting_id) ?? []), e]);
  for (const [id, legs] of postings) {
    if (legs.length < 2) v.push(`G1 posting ${id} has ${legs.length} leg(s)`);
    const byCur = new Map<string, number>();
    for (const l of legs) {
      if (num(l.debit) < 0 || num(l.credit) < 0) v.push(`G1 posting ${id} has a negative leg`);
      byCur.set(l.currency, (byCur.get(l.currency) ?? 0) + num(l.debit) - num(l.credit));
    }
    for (const [c, s] of byCur) if (s !== 0) v.push(`G1 posting ${id} unbalanced in ${c} by ${s}`);
    if (new Set(legs.map((l) => `${l.kind}|${l.ref_id}|${l.merchant_id}`)).size !== 1) v.push(`G1 posting ${id} mixes kinds or refs`);
  }

  // G3: no merchant's available balance below zero.
  const avail = new Map<string, number>();
  for (const e of entries) {
    if (/^merchant:.*:available$/.test(e.account)) avail.set(`${e.account} ${e.currency}`, (avail.get(`${e.account} ${e.currency}`) ?? 0) + num(e.credit) - num(e.debit));
  }
  for (const [k, b] of avail) if (b < 0) v.push(`G3 ${k} is ${b}`);

  const byRef = (ref: string, kind: string) => entries.filter((e) => e.ref_id === ref && e.kind === kind);
  const postingCount = (rows: Row[]) => new Set(rows.map((r) => r.posting_id)).size;
  const debitOf = (rows: Row[], acct: RegExp) => rows.filter((r) => acct.test(r.account)).reduce((s, r) => s + num(r.debit), 0);

  // G2/G4/G5 per attempt.
  for (const a of attempts) {
    const cap = byRef(a.id, 'capture');
    const auth = byRef(a.id, 'authorization');
    if (postingCount(cap) > 1) v.push(`G5 attempt ${a.id} has ${postingCount(cap)} capture postings`);
    if (postingCount(auth) > 1) v.push(`G5 attempt ${a.id} has ${postingCount(auth)} authorization postings`);
    const capturedLedger = debitOf(cap, /^acquirer:/);
    if (capturedLedger !== num(a.amount_captured)) v.push(`G2 attempt ${a.id} amount_captured ${a.amount_captured} but ledger captured ${capturedLedger}`);
    if ((a.status === 'captured') !== (num(a.amount_captured) > 0)) v.push(`G4 attempt ${a.id} is ${a.status} with amount_captured ${a.amount_captured}`);
    if (num(a.amount_captured) > num(a.amount)) v.push(`G4 attempt ${a.id} captured ${a.amount_captured} > amount ${a.amount}`);
    if (num(a.amount_refunded) > num(a.amount_captured)) v.push(`G4 attempt ${a.id} refunded ${a.amount_refunded} > captured ${a.amount_captured}`);
    if (num(a.amount) <= 0) v.push(`G4 attempt ${a.id} amount ${a.amount}`);
    // Holds: an authorization is released exactly once (capture or void) unless still authorized.
    const held = debitOf(auth, /^holds$/);
    const released = byRef(a.id, 'release').concat(byRef(a.id, 'void')).filter((e) => e.account === 'holds').reduce((s, e) => s + num(e.credit), 0);
    const open = a.status === 'authorized' ? held : 0;
    if (held - released !== open) v.push(`G2 attempt ${a.id} (${a.status}) holds ${held} released ${released}`);
    const ok = refunds.filter((r) => r.attempt_id === a.id && r.status === 'succeeded').reduce((s, r) => s + num(r.amount), 0);
    if (ok !== num(a.amount_refunded)) v.push(`G2 attempt ${a.id} amount_refunded ${a.amount_refunded} but succeeded refunds ${ok}`);
    const reserved = refunds.filter((r) => r.attempt_id === a.id && r.status !== 'failed').reduce((s, r) => s + num(r.amount), 0);
    if (reserved > num(a.amount_captured)) v.push(`G4 attempt ${a.id} non-failed refunds ${reserved} > captured ${a.amount_captured}`);
    if (a.pending_op && a.status !== 'authorized') v.push(`G6 attempt ${a.id} is ${a.status} with pending_op ${a.pending_op}`);
  }
  for (const r of refunds) {
    const a = attempts.find((x) => x.id === r.attempt_id);
    if (!a || a.currency !== r.currency) v.push(`G4 refund ${r.id} currency ${r.currency} differs from its payment`);
    if (num(r.amount) <= 0) v.push(`G4 refund ${r.id} amount ${r.amount}`);
    const posted = byRef(r.id, 'refund');
    if ((r.status === 'succeeded' ? 1 : 0) !== postingCount(posted)) v.push(`G5 refund ${r.id} (${r.status}) has ${postingCount(posted)} refund postings`);
    if (r.status === 'succeeded' && debitOf(posted, /:available$/) !== num(r.amount)) v.push(`G2 refund ${r.id} posted ${debitOf(posted, /:available$/)} of ${r.amount}`);
  }

  // Order status consistent with its attempts and amounts.
  for (const o of orders) {
    const as = attempts.filter((a) => a.order_id === o.id);
    const captured = as.filter((a) => a.status === 'captured');
    const authorized = as.filter((a) => a.status === 'authorized');
    const open = as.filter((a) => ['pending', 'unknown', 'requires_action'].includes(a.status));
    const inFlight = authorized.filter((a) => a.pending_op);
    const sumCaptured = captured.reduce((s, a) => s + num(a.amount_captured), 0);
    const sumRefunded = refunds.filter((r) => r.order_id === o.id && r.status === 'succeeded').reduce((s, r) => s + num(r.amount), 0);
    if (captured.length + authorized.length > 1) v.push(`G5 order ${o.id} has ${captured.length} captured and ${authorized.length} authorized attempts`);
    if (open.length > 1) v.push(`G5 order ${o.id} has ${open.length} open attempts`);
    if (num(o.amount_captured) !== sumCaptured) v.push(`G2 order ${o.id} amount_captured ${o.amount_captured} != attempts ${sumCaptured}`);
    if (num(o.amount_refunded) !== sumRefunded) v.push(`G2 order ${o.id} amount_refunded ${o.amount_refunded} != refunds ${sumRefunded}`);
    if (num(o.amount_captured) > num(o.amount)) v.push(`G4 order ${o.id} captured ${o.amount_captured} > amount ${o.amount}`);
    if (num(o.amount_authorized) > num(o.amount)) v.push(`G4 order ${o.id} authorized ${o.amount_authorized} > amount ${o.amount}`);
    if (num(o.amount_refunded) > num(o.amount_captured)) v.push(`G4 order ${o.id} refunded ${o.amount_refunded} > captured ${o.amount_captured}`);
    if (num(o.amount) <= 0) v.push(`G4 order ${o.id} amount ${o.amount}`);
    const bad = (why: string) => v.push(`order ${o.id} is ${o.status} but ${why}`);
    switch (o.status) {
      case 'created':
      case 'expired':
      case 'canceled':
        if (captured.length || authorized.length) bad('has a captured or authorized attempt');
        if (open.length) bad('has an open attempt');
        break;
      case 'processing':
        if (!open.length && !inFlight.length) bad('has no attempt in flight');
        break;
      case 'requires_action':
        if (!as.some((a) => a.status === 'requires_action')) bad('has no attempt requiring action');
        break;
      case 'authorized':
        if (authorized.length !== 1 || inFlight.length) bad('has no settled authorized attempt');
        if (num(o.amount_authorized) !== num(authorized[0]?.amount)) bad(`amount_authorized ${o.amount_authorized}`);
        break;
      case 'paid':
        if (captured.length !== 1 || sumRefunded !== 0) bad(`has ${captured.length} captured attempts and refunds ${sumRefunded}`);
        break;
      case 'partially_refunded':
        if (captured.length !== 1 || !(sumRefunded > 0 && sumRefunded < sumCaptured)) bad(`refunded ${sumRefunded} of ${sumCaptured}`);
        break;
      case 'refunded':
        if (captured.length !== 1 || sumRefunded !== sumCaptured) bad(`refunded ${sumRefunded} of ${sumCaptured}`);
        break;
      default:
        bad('that status is unknown');
    }
  }

  // G6: every transition allowed, chained from creation, ending in the row's current status.
  const tables6: Array<[string, Row[], Record<string, readonly string[]>, string, ReadonlySet<string>]> = [
    ['order', orders, ORDER_TRANSITIONS, 'created', TERMINAL_ORDER],
    ['attempt', attempts, ATTEMPT_TRANSITIONS, 'pending', TERMINAL_ATTEMPT],
    ['refund', refunds, REFUND_TRANSITIONS, 'pending', new Set(['succeeded', 'failed'])],
  ];
  for (const [entity, rows, table, first, terminal] of tables6) {
    for (const row of rows) {
      const ts = transitions.filter((x) => x.entity === entity && x.entity_id === row.id);
      if (!ts.length) {
        v.push(`G6 ${entity} ${row.id} has no transitions`);
        continue;
      }
      if (ts[0].from_status !== null || ts[0].to_status !== first) v.push(`G6 ${entity} ${row.id} begins ${ts[0].from_status} → ${ts[0].to_status}`);
      for (let i = 1; i < ts.length; i++) {
        const x = ts[i];
        if (x.from_status !== ts[i - 1].to_status) v.push(`G6 ${entity} ${row.id} transition ${x.from_status} → ${x.to_status} does not follow ${ts[i - 1].to_status}`);
        if (terminal.has(x.from_status)) v.push(`G6 ${entity} ${row.id} left terminal ${x.from_status}`);
        if (!(table[x.from_status] ?? []).includes(x.to_status)) v.push(`G6 ${entity} ${row.id} transition ${x.from_status} → ${x.to_status} is not in the table`);
      }
      if (ts[ts.length - 1].to_status !== row.status) v.push(`G6 ${entity} ${row.id} is ${row.status} but its last transition is to ${ts[ts.length - 1].to_status}`);
      if (entity === 'order' && ts.length !== num(row.version)) v.push(`G7 order ${row.id} version ${row.version} but ${ts.length} transitions`);
    }
  }
  const known = new Set([...orders, ...attempts, ...refunds].map((r) => r.id));
  for (const x of transitions) if (!known.has(x.entity_id)) v.push(`G6 transition for missing ${x.entity} ${x.entity_id}`);

  // G7: one order.<status> event per order version, matching that version's transition; no duplicates at all.
  const seen = new Set<string>();
  for (const e of events) {
    const k = `${e.entity_id}|${e.type}|${e.entity_version}`;
    if (seen.has(k)) v.push(`G7 duplicate event ${k}`);
    seen.add(k);
  }
  for (const o of orders) {
    const evs = events.filter((e) => e.entity_id === o.id && String(e.type).startsWith('order.'));
    const ts = transitions.filter((x) => x.entity === 'order' && x.entity_id === o.id);
    for (let ver = 1; ver <= num(o.version); ver++) {
      const at = evs.filter((e) => num(e.entity_version) === ver);
      const expected = `order.${ts[ver - 1]?.to_status}`;
      if (at.length !== 1 || at[0].type !== expected) v.push(`G7 order ${o.id} version ${ver}: events ${JSON.stringify(at.map((e) => e.type))}, expected ${expected}`);
    }
    if (evs.some((e) => num(e.entity_version) > num(o.version) || num(e.entity_version) < 1)) v.push(`G7 order ${o.id} has an event beyond version ${o.version}`);
  }
  for (const a of attempts) {
    const declined = events.filter((e) => e.entity_id === a.id && (e.type === 'payment.declined' || e.type === 'payment.failed'));
    const expect = a.status === 'declined' || a.status === 'failed' ? 1 : 0;
    if (declined.length !== expect || (expect && declined[0].type !== `payment.${a.status}`)) v.push(`G7 attempt ${a.id} (${a.status}) has events ${JSON.stringify(declined.map((e) => e.type))}`);
  }
  const eventIds = new Set(events.map((e) => e.id));
  for (const d of await db('webhook_deliveries')) if (!eventIds.has(d.event_id)) v.push(`G7 delivery ${d.id} without its event`);

  // G8 and G9 over every column of every table.
  for (const table of await tables(db)) {
    const rows: Row[] = await db(table);
    for (const row of rows) {
      for (const [col, val] of Object.entries(row)) {
        if (typeof val === 'string' && !OPAQUE_COLUMN.test(col)) {
          const pans = findPans(val);
          if (pans.length) v.push(`G8 ${table}.${col} holds a card number ${pans[0]!.slice(0, 6)}…`);
          if (hasCvcField(val)) v.push(`G8 ${table}.${col} holds a CVC-like field`);
        }
        if (/(^|_)(amount|debit|credit)(_|$)/.test(col) && val !== null && !Number.isSafeInteger(typeof val === 'string' ? Number(val) : val)) {
          v.push(`G9 ${table}.${col} = ${val} is not an integer`);
        }
        if ((/_at$/.test(col) || col === 'at') && val !== null && val !== undefined && !(typeof val === 'string' && ISO_UTC.test(val))) {
          v.push(`G9 ${table}.${col} = ${String(val)} is not an ISO-8601 UTC time`);
        }
      }
    }
  }
  for (const raw of opts.logs ?? []) {
    // pino's epoch-millisecond "time" is 13 digits and not card data.
    const line = raw.replace(/"time":\d+/g, '"time":0');
    const pans = findPans(line);
    if (pans.length) v.push(`G8 log line holds a card number ${pans[0]!.slice(0, 6)}…`);
    if (hasCvcField(line)) v.push('G8 log line holds a CVC-like field');
  }
  return v;
}
