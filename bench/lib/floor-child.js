'use strict';
/*
 * The floor: bare Koa (with the hub's body parser) over the same database driver, doing the essential writes of a
 * card payment with hand-written SQL, one transaction per request, on the hub's own schema (core migrations):
 *   POST /v1/orders               order row + outbox event                                   (1 transaction)
 *   POST /v1/orders/:id/payments  lock the order, attempt row, order → paid, 2 ledger entries
 *                                 (a balanced capture posting), outbox event                 (1 transaction)
 * No authentication, no idempotency keys, no bank call, no audit trail: what any server must at least do to store
 * the same payment durably with this driver. Options from BENCH_FLOOR (JSON): { url, driver }.
 */
const crypto = require('node:crypto');
const http = require('node:http');
const path = require('node:path');
const Koa = require('koa');
const { bodyParser } = require('@koa/bodyparser');
const { serveParent, requestTracker } = require('./proc');

const core = path.resolve(__dirname, '..', '..', 'core', 'dist', 'src');
const { createDb, sqlitePath } = require(path.join(core, 'db', 'knex'));
const { migrate } = require(path.join(core, 'db', 'migrate'));
const { coreMigrations } = require(path.join(core, 'engine', 'migrations'));

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function newId(prefix) {
  const b = crypto.randomBytes(22);
  let s = '';
  for (let i = 0; i < 22; i++) s += ALPHABET[b[i] % 62];
  return `${prefix}_${s}`;
}

const SQL = {
  insertOrder: `insert into orders (id, merchant_id, mode, order_number, amount, currency, description, capture_mode, status,
    customer, metadata, amount_authorized, amount_captured, amount_refunded, version, expires_at, created_at, updated_at)
    values (?, ?, 'test', ?, ?, ?, '', 'automatic', 'created', '{}', '{}', 0, 0, 0, 1, ?, ?, ?)`,
  insertEvent: 'insert into events (id, merchant_id, type, entity_id, entity_version, data, created_at) values (?, ?, ?, ?, ?, ?, ?)',
  selectOrder: 'select id, status, amount, currency, version from orders where id = ? and merchant_id = ?',
  insertAttempt: `insert into payment_attempts (id, order_id, merchant_id, method, status, amount, currency, amount_captured,
    amount_refunded, provider_ref, method_data, source, check_count, created_at, updated_at)
    values (?, ?, ?, 'card', 'captured', ?, ?, ?, 0, ?, ?, 'api', 0, ?, ?)`,
  updateOrder: `update orders set status = 'paid', amount_captured = ?, version = version + 1, updated_at = ? where id = ? and version = ?`,
  insertLegs: `insert into ledger_entries (posting_id, merchant_id, account, currency, debit, credit, kind, ref_id, created_at)
    values (?, ?, ?, ?, ?, 0, 'capture', ?, ?), (?, ?, ?, ?, 0, ?, 'capture', ?, ?)`,
};

/** Numbered placeholders for PostgreSQL. */
function pgText(sql) {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

function conflict(msg) {
  return Object.assign(new Error(msg), { status: 409 });
}

/*
 * Transaction bodies are generators that yield [statement, params] and receive the rows: the same body then runs
 * synchronously inside better-sqlite3's transaction() and asynchronously on sqlite3 and pg.
 */
function* createOrderBody(merchantId, b) {
  const at = new Date().toISOString();
  const id = newId('ord');
  const expires = new Date(Date.now() + 86_400_000).toISOString();
  const row = { id, object: 'order', order_number: b.order_number, amount: b.amount, currency: b.currency, status: 'created', created_at: at };
  yield ['insertOrder', [id, merchantId, b.order_number, b.amount, b.currency, expires, at, at]];
  yield ['insertEvent', [newId('evt'), merchantId, 'order.created', id, 1, JSON.stringify({ type: 'order.created', timestamp: Math.floor(Date.now() / 1000), data: row }), at]];
  return row;
}

function* payBody(merchantId, orderId, b) {
  const rows = yield ['selectOrder', [orderId, merchantId], true];
  const o = rows[0];
  if (!o) throw Object.assign(new Error('order not found'), { status: 404 });
  if (o.status !== 'created') throw conflict(`order is ${o.status}`);
  const at = new Date().toISOString();
  const id = newId('pay');
  const amount = Number(o.amount);
  const pan = b.card.number;
  const methodData = JSON.stringify({ brand: 'visa', masked: `${pan.slice(0, 6)}******${pan.slice(-4)}`, last4: pan.slice(-4) });
  yield ['insertAttempt', [id, o.id, merchantId, amount, o.currency, amount, `bank_${id}`, methodData, at, at]];
  yield ['updateOrder', [amount, at, o.id, o.version]];
  const posting = newId('pst');
  yield ['insertLegs', [posting, merchantId, 'acquirer:card', o.currency, amount, id, at, posting, merchantId, `merchant:${merchantId}:available`, o.currency, amount, id, at]];
  const payment = { id, object: 'payment', order_id: o.id, method: 'card', status: 'captured', amount, currency: o.currency, amount_captured: amount, created_at: at };
  yield ['insertEvent', [newId('evt'), merchantId, 'order.paid', o.id, Number(o.version) + 1, JSON.stringify({ type: 'order.paid', timestamp: Math.floor(Date.now() / 1000), data: { id: o.id, status: 'paid', payment } }), at]];
  return payment;
}

/** A store: run(gen) runs one transaction body in one write transaction. */
async function openStore(driver, url) {
  if (driver === 'postgres') {
    const pg = require('pg');
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    return {
      async run(gen) {
        const c = await pool.connect();
        try {
          await c.query('begin');
          let step = gen.next();
          while (!step.done) {
            const [name, params, lock] = step.value;
            const r = await c.query({ name: name + (lock ? '_fu' : ''), text: pgText(SQL[name]) + (lock ? ' for update' : ''), values: params });
            step = gen.next(r.rows);
          }
          await c.query('commit');
          return step.value;
        } catch (e) {
          await c.query('rollback').catch(() => undefined);
          throw e;
        } finally {
          c.release();
        }
      },
      close: () => pool.end(),
    };
  }
  const file = sqlitePath(url, process.cwd());
  const pragmas = ['journal_mode = WAL', 'foreign_keys = ON', 'busy_timeout = 5000', 'synchronous = FULL'];
  if (driver === 'better-sqlite3') {
    const Database = require('better-sqlite3');
    const db = new Database(file);
    for (const p of pragmas) db.pragma(p);
    const stmts = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)]));
    const runAll = db.transaction((gen) => {
      let step = gen.next();
      while (!step.done) {
        const [name, params] = step.value;
        const s = stmts[name];
        step = gen.next(s.reader ? s.all(params) : (s.run(params), []));
      }
      return step.value;
    });
    return {
      async run(gen) {
        return runAll.immediate(gen);
      },
      close: async () => db.close(),
    };
  }
  const sqlite3 = require('sqlite3');
  const db = await new Promise((resolve, reject) => {
    const d = new sqlite3.Database(file, (e) => (e ? reject(e) : resolve(d)));
  });
  const exec = (sql) => new Promise((resolve, reject) => db.exec(sql, (e) => (e ? reject(e) : resolve())));
  await exec(pragmas.map((p) => `PRAGMA ${p}`).join(';'));
  const stmts = Object.fromEntries(Object.entries(SQL).map(([k, v]) => [k, db.prepare(v)]));
  const q = (name, params) => new Promise((resolve, reject) => {
    const s = stmts[name];
    if (name.startsWith('select')) s.all(params, (e, rows) => (e ? reject(e) : resolve(rows)));
    else s.run(params, (e) => (e ? reject(e) : resolve([])));
  });
  // One connection, like the hub's: transactions run one after the other.
  let chain = Promise.resolve();
  return {
    run(gen) {
      const go = async () => {
        await exec('BEGIN IMMEDIATE');
        try {
          let step = gen.next();
          while (!step.done) step = gen.next(await q(step.value[0], step.value[1]));
          await exec('COMMIT');
          return step.value;
        } catch (e) {
          await exec('ROLLBACK').catch(() => undefined);
          throw e;
        }
      };
      const p = chain.then(go, go);
      chain = p.catch(() => undefined);
      return p;
    },
    close: () => new Promise((resolve) => db.close(() => resolve())),
  };
}

async function main() {
  const o = JSON.parse(process.env.BENCH_FLOOR || '{}');
  const driver = o.driver;
  // The hub's schema, made by the hub's own migrations.
  const knex = createDb({ url: o.url, sqliteDriver: driver === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite3', rootDir: process.cwd() });
  await migrate(knex, 'core', coreMigrations);
  const merchantId = newId('mer');
  const now = new Date().toISOString();
  await knex('merchants').insert({
    id: merchantId, name: 'Floor shop', mode: 'test', status: 'active', webhook_secret_enc: 'x', form_key_enc: 'x',
    currencies: '["RUB","USD","EUR"]', direct_card_input: true, bank_adapter: 'sandbox-bank', fee_bps: 0, settings: '{}',
    created_at: now, updated_at: now,
  });
  await knex.destroy();
  const store = await openStore(driver, o.url);

  const app = new Koa();
  const requests = requestTracker();
  app.use(requests.middleware);
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (e) {
      ctx.status = e.status || 500;
      ctx.body = { error: e.message };
    }
  });
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '256kb' }));
  app.use(async (ctx) => {
    const b = ctx.request.body || {};
    if (ctx.method !== 'POST') ctx.throw(404);
    if (ctx.path === '/v1/orders') {
      if (typeof b.order_number !== 'string' || !Number.isInteger(b.amount) || typeof b.currency !== 'string') ctx.throw(422, 'bad order');
      ctx.body = await store.run(createOrderBody(merchantId, b));
      ctx.status = 201;
      return;
    }
    const m = /^\/v1\/orders\/([^/]+)\/payments$/.exec(ctx.path);
    if (!m) ctx.throw(404);
    if (b.method !== 'card' || !b.card || typeof b.card.number !== 'string') ctx.throw(422, 'bad payment');
    ctx.body = await store.run(payBody(merchantId, m[1], b));
    ctx.status = 201;
  });

  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  serveParent({
    /** Counts for the books check, once no request is running (one statement, so both counts see one state). */
    async books() {
      await requests.idle();
      const k = createDb({ url: o.url, sqliteDriver: driver === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite3', rootDir: process.cwd() });
      try {
        const r = await k.raw("select (select count(*) from orders where status = 'paid') as paid,"
          + " (select count(distinct posting_id) from ledger_entries where kind = 'capture') as cap");
        const row = Array.isArray(r) ? r[0] : r.rows[0];
        return { paidOrders: Number(row.paid), capturePostings: Number(row.cap) };
      } finally {
        await k.destroy();
      }
    },
    async stop() {
      server.close();
      server.closeAllConnections();
      await store.close();
      setImmediate(() => process.exit(0));
    },
  });
  process.send({ type: 'ready', port: server.address().port, pid: process.pid });
}

main().catch((e) => {
  console.error(e);
  if (process.connected) process.send({ type: 'failed', error: String((e && e.message) || e) });
  setTimeout(() => process.exit(1), 100);
});
