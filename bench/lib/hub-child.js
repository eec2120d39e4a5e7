'use strict';
/*
 * The hub under test, in its own process: buildApp with a config made by loadConfig over an empty config folder
 * (so config/local.yaml of the machine plays no part), workers running as in production, the sandbox bank and the
 * card plugin. Options come from BENCH_HUB (JSON): { url, sqliteDriver, transport, logRequests, adminToken, groupCommit }.
 * Log lines go to this process's stdout, which the parent points at a file.
 */
require('reflect-metadata');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { serveParent, requestTracker } = require('./proc');

const core = path.resolve(__dirname, '..', '..', 'core', 'dist', 'src');
const { loadConfig, PROJECT_ROOT } = require(path.join(core, 'config', 'load'));
const { buildApp } = require(path.join(core, 'app'));
const { TOKENS } = require(path.join(core, 'sdk', 'tokens'));

async function main() {
  const o = JSON.parse(process.env.BENCH_HUB || '{}');
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-bench-cfg-'));
  const config = loadConfig({
    rootDir: PROJECT_ROOT,
    configDir,
    env: {},
    overrides: {
      port: 0,
      host: '127.0.0.1',
      database: { url: o.url, sqliteDriver: o.sqliteDriver || 'sqlite3', groupCommit: o.groupCommit !== false },
      log: { level: 'info', requests: o.logRequests !== false },
      adminToken: o.adminToken,
      keys: { masterKey: crypto.randomBytes(32).toString('base64') },
      workers: { enabled: true },
      demo: { enabled: false },
      plugins: [
        { resolve: './plugins/sandbox-bank', options: { transport: o.transport || 'inproc' } },
        { resolve: './plugins/card' },
      ],
    },
  });
  const hub = await buildApp(config);
  const requests = requestTracker();
  hub.koa.middleware.unshift(requests.middleware);
  const port = await hub.listen(0, '127.0.0.1');
  if (config.workers.enabled) hub.startWorkers();
  const bank = hub.container.resolveAll(TOKENS.BankAdapter).find((a) => a.id === 'sandbox-bank');
  const db = hub.db;

  let stopping = null;
  const stop = () => {
    stopping ??= hub.close().finally(() => fs.rmSync(configDir, { recursive: true, force: true }));
    return stopping;
  };

  serveParent({
    /** Counts for the books check, once no request has been running for 300 ms (waits at most 30 s). */
    async books() {
      const count = async (q) => Number(Object.values((await q) || {})[0] || 0);
      const requestsLeft = await requests.idle();
      const processing = await count(db('orders').where({ status: 'processing' }).count({ n: '*' }).first());
      const byStatus = await db('orders').select('status').count({ n: '*' }).groupBy('status');
      const attempts = await db('payment_attempts').select('status').count({ n: '*' }).groupBy('status');
      const capturePostings = await count(db('ledger_entries').where({ kind: 'capture' }).countDistinct({ n: 'posting_id' }).first());
      const postings = await count(db('ledger_entries').countDistinct({ n: 'posting_id' }).first());
      const unbalanced = await db('ledger_entries').select('posting_id').groupBy('posting_id')
        .havingRaw('sum(debit) <> sum(credit) or count(*) < 2');
      const paidEvents = await count(db('events').where({ type: 'order.paid' }).count({ n: '*' }).first());
      const idem = await db('idempotency_keys').select('state').count({ n: '*' }).groupBy('state');
      const toMap = (rows) => Object.fromEntries(rows.map((r) => [r.status ?? r.state, Number(r.n)]));
      return {
        orders: toMap(byStatus), attempts: toMap(attempts), capturePostings, postings, unbalancedPostings: unbalanced.length,
        paidEvents, idempotencyKeys: toMap(idem), inFlightLeft: requestsLeft + processing,
      };
    },
    async stop() {
      await stop();
      setImmediate(() => process.exit(0));
    },
  });
  process.on('SIGTERM', () => stop().finally(() => process.exit(0)));
  process.send({ type: 'ready', port, bankUrl: bank.emulatorUrl(), pid: process.pid });
}

main().catch((e) => {
  console.error(e);
  if (process.connected) process.send({ type: 'failed', error: String((e && e.message) || e) });
  setTimeout(() => process.exit(1), 100);
});
