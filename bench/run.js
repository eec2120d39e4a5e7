'use strict';
/*
 * Payhub benchmark: the card payment scenario (create order + pay with the approved sandbox card) against
 *   - the hub (buildApp, workers on, sandbox bank inproc and over HTTP) on a fresh database per driver,
 *   - a floor server (bare Koa, same driver, the essential writes in one transaction per request),
 *   - a ceiling server (bare Koa, constant JSON),
 * each in its own child process; the load generator (autocannon) runs here.
 *
 *   npm run bench                      all drivers, 10 s per step
 *   BENCH_QUICK=1 npm run bench        2 s per step
 *   BENCH_DURATION=20                  seconds per step
 *   BENCH_DRIVERS=better-sqlite3,postgres   a subset of sqlite3, better-sqlite3, postgres
 *   BENCH_LEVELS=1,8,32,64             client counts
 *   BENCH_PROFILE=1                    hub child under --cpu-prof (inproc, 32 clients only); see bench/profile-top.js
 *   BENCH_NO_WRITE=1                   do not write bench/results or docs/performance.md
 *
 * Results: bench/results/<date>-<driver>.json (summaries) and the table in docs/performance.md.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { startChild, procStats, sampler } = require('./lib/proc');
const { runPairs, round } = require('./lib/load');
const { writeReport } = require('./lib/report');

const ROOT = path.resolve(__dirname, '..');
const RESULTS = path.join(__dirname, 'results');
const { createTestDatabase } = require(path.join(ROOT, 'core', 'dist', 'src', 'testing'));

const QUICK = process.env.BENCH_QUICK === '1';
const DURATION = Number(process.env.BENCH_DURATION || (QUICK ? 2 : 10));
const LEVELS = (process.env.BENCH_LEVELS || '1,8,32,64').split(',').map(Number).filter((n) => n > 0);
const DRIVERS = (process.env.BENCH_DRIVERS || 'sqlite3,better-sqlite3,postgres').split(',').map((s) => s.trim()).filter(Boolean);
const PROFILE = process.env.BENCH_PROFILE === '1';
const NO_WRITE = process.env.BENCH_NO_WRITE === '1';
const COMPARE_AT = LEVELS.includes(32) ? 32 : LEVELS[LEVELS.length - 1];
const WARMUP_SEC = Math.min(2, DURATION);
const BRIEF_SEC = Math.min(5, DURATION);
const stamp = new Date().toISOString().slice(0, 10);
const TMP = path.join(RESULTS, `tmp-${new Date().toISOString().replace(/[:.]/g, '-')}`);

function log(...a) {
  process.stdout.write(`${a.join(' ')}\n`);
}

function machine() {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  const model = (/^model name\s*:\s*(.*)$/m.exec(cpuinfo) || [])[1] || os.cpus()[0]?.model || 'unknown';
  return {
    cores: os.cpus().length, cpuModel: model.trim(), node: process.version, memGb: round(os.totalmem() / 2 ** 30, 1),
    platform: `${os.type()} ${os.release()}`, loadAvgAtStart: os.loadavg().map((x) => round(x, 2)),
  };
}

/** Runs one measured step against a child server and attaches the child's CPU and RSS figures. */
async function step(server, { key, connections, durationSec, label }) {
  const before = procStats(server.pid);
  const s = sampler(server.pid);
  const t0 = Date.now();
  const r = await runPairs({ port: server.info.port, key, connections, durationSec, label });
  const wall = (Date.now() - t0) / 1000;
  const maxRss = s.stop();
  const after = procStats(server.pid);
  r.serverCpuPct = before && after ? round((100 * (after.cpuSec - before.cpuSec)) / wall, 1) : null;
  r.serverRssMb = round(maxRss, 1);
  r.serverPeakRssMb = after ? round(after.hwmMb, 1) : null;
  r.loadAvg1 = round(os.loadavg()[0], 2);
  const l = r.latencyMs;
  log(`  ${label.padEnd(28)} c=${String(connections).padStart(2)}  ${String(r.paidOrdersPerSec).padStart(7)} paid/s`
    + `  order p50/p95/p99 ${l.order.p50}/${l.order.p95}/${l.order.p99} ms`
    + `  pay ${l.payment.p50}/${l.payment.p95}/${l.payment.p99} ms  errors ${r.errors.total}`
    + `  cpu ${r.serverCpuPct}%  rss ${r.serverRssMb} MB (peak ${r.serverPeakRssMb})`);
  if (r.errors.total) log(`    errors: ${JSON.stringify(r.errors)}`);
  return r;
}

async function ceilingRuns() {
  log('ceiling: bare Koa, constant JSON');
  const srv = await startChild(path.join(__dirname, 'lib', 'ceiling-child.js'), { logFile: path.join(TMP, 'ceiling.log') });
  try {
    await runPairs({ port: srv.info.port, connections: 8, durationSec: WARMUP_SEC / 2, label: 'warm-up' });
    const levels = {};
    for (const c of LEVELS) levels[c] = await step(srv, { connections: c, durationSec: DURATION, label: 'ceiling' });
    return { levels };
  } finally {
    await srv.stop();
  }
}

async function floorRuns(driver) {
  const dbase = await createTestDatabase(driver === 'postgres' ? 'postgres' : 'sqlite');
  const srv = await startChild(path.join(__dirname, 'lib', 'floor-child.js'), {
    env: { BENCH_FLOOR: JSON.stringify({ url: dbase.url, driver }) }, logFile: path.join(TMP, `floor-${driver}.log`),
  });
  try {
    await runPairs({ port: srv.info.port, connections: 8, durationSec: WARMUP_SEC, label: 'warm-up' });
    const levels = {};
    for (const c of LEVELS) levels[c] = await step(srv, { connections: c, durationSec: DURATION, label: `floor ${driver}` });
    const books = await srv.call('books');
    return { levels, books };
  } finally {
    await srv.stop();
    await dbase.drop().catch(() => undefined);
  }
}

async function fetchJson(url, init) {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Starts a hub on a fresh database, creates a merchant through the admin API, runs the steps, checks the books. */
async function hubRuns(driver, { transport, logRequests, levels, durationSec, tag, profile = false, groupCommit = true }) {
  const dbase = await createTestDatabase(driver === 'postgres' ? 'postgres' : 'sqlite');
  const adminToken = `adm_bench_${crypto.randomBytes(12).toString('hex')}`;
  const execArgv = profile ? ['--cpu-prof', '--cpu-prof-dir', path.join(TMP, `prof-${driver}-${tag}`)] : [];
  const srv = await startChild(path.join(__dirname, 'lib', 'hub-child.js'), {
    env: {
      BENCH_HUB: JSON.stringify({ url: dbase.url, sqliteDriver: driver === 'better-sqlite3' ? 'better-sqlite3' : 'sqlite3', transport, logRequests, adminToken, groupCommit }),
    },
    execArgv,
    logFile: path.join(TMP, `hub-${driver}-${tag}.log`),
  });
  try {
    const m = await fetchJson(`http://127.0.0.1:${srv.info.port}/v1/admin/merchants`, {
      method: 'POST', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Bench shop', mode: 'test' }),
    });
    const key = m.test_secret_key;
    const steps = [];
    const warm = await runPairs({ port: srv.info.port, key, connections: 8, durationSec: WARMUP_SEC, label: 'warm-up' });
    if (warm.errors.total) log(`  warm-up errors: ${JSON.stringify(warm.errors)}`);
    steps.push(warm);
    const out = {};
    for (const c of levels) {
      const r = await step(srv, { key, connections: c, durationSec, label: `hub ${driver} ${tag}` });
      out[c] = r;
      steps.push(r);
    }
    const books = await srv.call('books');
    const ops = (await fetchJson(`${srv.info.bankUrl}/ledger`)).operations;
    books.bankCaptures = ops.filter((x) => x.kind === 'capture' && x.approved).length;
    books.clientPaidOrders = steps.reduce((s, r) => s + r.paidOrders, 0);
    // Requests cut off at the end of a step may still complete on the server: at most one per client per step.
    const cutoff = steps.reduce((s, r) => s + r.connections, 0);
    const paid = books.orders.paid || 0;
    books.ok = paid === books.bankCaptures && paid === books.capturePostings && paid === books.paidEvents
      && books.unbalancedPostings === 0 && books.inFlightLeft === 0
      && paid >= books.clientPaidOrders && paid <= books.clientPaidOrders + cutoff;
    log(`  books (${tag}): paid orders ${paid} (clients saw ${books.clientPaidOrders}), bank captures ${books.bankCaptures},`
      + ` capture postings ${books.capturePostings}, unbalanced postings ${books.unbalancedPostings} → ${books.ok ? 'OK' : 'MISMATCH'}`);
    if (!books.ok) log(`    books: ${JSON.stringify(books)}`);
    return { levels: out, books, warmupErrors: warm.errors.total, peakRssMb: round(procStats(srv.pid)?.hwmMb ?? 0, 1) };
  } finally {
    await srv.stop();
    await dbase.drop().catch(() => undefined);
  }
}

async function postgresReachable() {
  try {
    const d = await createTestDatabase('postgres');
    await d.drop();
    return true;
  } catch (e) {
    log(`postgres: skipped, no server reachable on 127.0.0.1:5432 (${e.message})`);
    return false;
  }
}

function ratio(a, b) {
  return a && b ? round(a / b, 3) : null;
}

async function main() {
  fs.mkdirSync(TMP, { recursive: true });
  const mach = machine();
  log(`Payhub bench: ${mach.cores} cores, ${mach.cpuModel}, Node ${mach.node}; ${DURATION} s per step; clients ${LEVELS.join(', ')};`
    + ` load average ${mach.loadAvgAtStart.join(' ')}`);
  const ceiling = await ceilingRuns();
  const results = [];
  for (const driver of DRIVERS) {
    if (driver === 'postgres' && !(await postgresReachable())) continue;
    log(`\n${driver}`);
    const floor = await floorRuns(driver);
    const inproc = await hubRuns(driver, { transport: 'inproc', logRequests: true, levels: LEVELS, durationSec: DURATION, tag: 'inproc' });
    const http = await hubRuns(driver, { transport: 'http', logRequests: true, levels: [COMPARE_AT], durationSec: DURATION, tag: 'http' });
    const logOff = await hubRuns(driver, { transport: 'inproc', logRequests: false, levels: [COMPARE_AT], durationSec: BRIEF_SEC, tag: 'inproc-nolog' });
    // SQLite: the same with every transaction committing on its own (database.groupCommit: false), for comparison.
    const groupOff = driver === 'postgres' ? null
      : await hubRuns(driver, { transport: 'inproc', logRequests: true, levels: [COMPARE_AT], durationSec: BRIEF_SEC, tag: 'inproc-nogroup', groupCommit: false });
    let profile = null;
    if (PROFILE) {
      const p = await hubRuns(driver, { transport: 'inproc', logRequests: true, levels: [COMPARE_AT], durationSec: DURATION, tag: 'profile', profile: true });
      profile = { dir: path.relative(ROOT, path.join(TMP, `prof-${driver}-profile`)), paidOrdersPerSec: p.levels[COMPARE_AT].paidOrdersPerSec };
      log(`  profile written to ${profile.dir} (summarise: node bench/profile-top.js ${profile.dir})`);
    }
    const ratios = {};
    for (const c of LEVELS) {
      const h = inproc.levels[c]?.paidOrdersPerSec;
      ratios[c] = { floor: ratio(h, floor.levels[c]?.paidOrdersPerSec), ceiling: ratio(h, ceiling.levels[c]?.paidOrdersPerSec) };
    }
    const r = {
      date: stamp, driver, machine: mach, durationSec: DURATION, quick: QUICK, levels: LEVELS, compareAt: COMPARE_AT,
      hub: { inproc, http, inprocNoRequestLog: logOff, ...(groupOff ? { inprocNoGroupCommit: groupOff } : {}) }, floor, ceiling, ratios, profile,
    };
    r.targets = targets(r);
    results.push(r);
    const a = inproc.levels[COMPARE_AT];
    log(`  at ${COMPARE_AT} clients: hub ${a?.paidOrdersPerSec}/s = ${ratios[COMPARE_AT]?.floor} × floor, ${ratios[COMPARE_AT]?.ceiling} × ceiling;`
      + ` http bank ${http.levels[COMPARE_AT]?.paidOrdersPerSec}/s; request log off ${logOff.levels[COMPARE_AT]?.paidOrdersPerSec}/s`
      + (groupOff ? `; group commit off ${groupOff.levels[COMPARE_AT]?.paidOrdersPerSec}/s` : ''));
    log(`  targets: ${JSON.stringify(r.targets)}`);
    if (!NO_WRITE) {
      fs.mkdirSync(RESULTS, { recursive: true });
      fs.writeFileSync(path.join(RESULTS, `${stamp}-${driver}.json`), `${JSON.stringify(r, null, 1)}\n`);
    }
  }
  if (!NO_WRITE) {
    writeReport({ root: ROOT, resultsDir: RESULTS });
    log('\nwrote bench/results/*.json and docs/performance.md');
  }
  const bad = results.filter((r) => Object.values(r.hub).some((h) => !h.books.ok || h.warmupErrors)
    || Object.values(r.hub.inproc.levels).some((l) => l.errors.total > 0));
  if (bad.length) {
    log(`\nFAILED: errors or books mismatch for ${bad.map((r) => r.driver).join(', ')}`);
    process.exitCode = 1;
  }
  if (!PROFILE && !bad.length) fs.rmSync(TMP, { recursive: true, force: true });
  else log(`server logs${PROFILE ? ' and profiles' : ''}: ${path.relative(ROOT, TMP)}`);
}

/** The throughput targets of the issue, evaluated at COMPARE_AT clients. */
function targets(r) {
  const a = r.hub.inproc.levels[r.compareAt];
  if (!a) return null;
  const need = r.driver === 'sqlite3' ? 500 : 1000;
  return {
    paidPerSec: { need, got: a.paidOrdersPerSec, ok: a.paidOrdersPerSec >= need },
    p99Ms: { need: 50, got: Math.max(a.latencyMs.order.p99 ?? 0, a.latencyMs.payment.p99 ?? 0), ok: Math.max(a.latencyMs.order.p99 ?? 0, a.latencyMs.payment.p99 ?? 0) <= 50 },
    errors: { need: 0, got: a.errors.total, ok: a.errors.total === 0 },
    vsFloor: { need: 0.5, got: r.ratios[r.compareAt].floor, ok: (r.ratios[r.compareAt].floor ?? 0) >= 0.5 },
  };
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
