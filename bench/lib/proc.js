'use strict';
/*
 * Child processes of the benchmark: each server (hub, floor, ceiling) runs in its own process so that its RSS and
 * CPU are its own; the load generator stays in the parent. Children talk to the parent over the IPC channel:
 * they send { type: 'ready', ... } once listening and answer { id, ... } requests with { id, result | error }.
 */
const fs = require('node:fs');
const { fork } = require('node:child_process');

const CLK_TCK = 100; // USER_HZ on Linux

/** Starts `script` as a child; resolves once it reports ready (or rejects on exit/timeout). */
function startChild(script, { env = {}, execArgv = [], logFile, timeoutMs = 90_000 } = {}) {
  const out = logFile ? fs.openSync(logFile, 'a') : 'ignore';
  const child = fork(script, [], {
    stdio: ['ignore', out, out, 'ipc'],
    execArgv,
    env: { ...process.env, ...env },
  });
  if (typeof out === 'number') fs.closeSync(out);
  let nextId = 1;
  const pending = new Map();
  child.on('message', (m) => {
    if (m && m.id && pending.has(m.id)) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m.result);
    }
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const ready = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${script} did not become ready within ${timeoutMs} ms (log: ${logFile})`)), timeoutMs);
    child.on('message', (m) => {
      if (m && m.type === 'ready') {
        clearTimeout(t);
        resolve(m);
      } else if (m && m.type === 'failed') {
        clearTimeout(t);
        reject(new Error(`${script} failed to start: ${m.error} (log: ${logFile})`));
      }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(t);
      reject(new Error(`${script} exited (${code ?? signal}) before it was ready (log: ${logFile})`));
    });
  });
  const api = {
    child,
    pid: child.pid,
    exited,
    /** Sends a request to the child and waits for its answer. */
    call(type, payload = {}, callTimeoutMs = 60_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`child ${script}: ${type} timed out`));
        }, callTimeoutMs);
        pending.set(id, {
          resolve: (v) => { clearTimeout(t); resolve(v); },
          reject: (e) => { clearTimeout(t); reject(e); },
        });
        child.send({ id, type, ...payload });
      });
    },
    /** Asks the child to close and exit; kills it (by its own pid) if it does not within the time given. */
    async stop(graceMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      try {
        child.send({ id: nextId++, type: 'stop' });
      } catch { /* channel closed */ }
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
  return ready.then((info) => Object.assign(api, { info }));
}

/** RSS, peak RSS (VmHWM) and CPU seconds of a process, from /proc. */
function procStats(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name) => Number((new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status) || [])[1] || 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, cpuSec: (utime + stime) / CLK_TCK };
  } catch {
    return null;
  }
}

/** Samples a process's RSS while a load runs (VmHWM already keeps the peak; this keeps the series' maximum). */
function sampler(pid, everyMs = 250) {
  let maxRss = 0;
  const tick = () => {
    const s = procStats(pid);
    if (s && s.rssMb > maxRss) maxRss = s.rssMb;
  };
  tick();
  const t = setInterval(tick, everyMs);
  return { stop() { clearInterval(t); tick(); return maxRss; } };
}

/** Child side: report ready, answer requests with handlers[type](msg). */
function serveParent(handlers) {
  process.on('message', async (m) => {
    if (!m || !m.id) return;
    const h = handlers[m.type];
    try {
      if (!h) throw new Error(`unknown request ${m.type}`);
      const result = await h(m);
      if (process.connected) process.send({ id: m.id, result: result === undefined ? null : result });
    } catch (e) {
      if (process.connected) process.send({ id: m.id, error: String((e && e.stack) || e) });
    }
  });
  process.on('disconnect', () => {
    // The parent is gone: do not linger.
    if (handlers.stop) Promise.resolve(handlers.stop({})).finally(() => process.exit(0));
    else process.exit(0);
  });
}

/**
 * Counts the requests a server child is handling (koa middleware; a client that went away at the end of a step
 * leaves its last request running there), and waits until none has run for 300 ms (at most 30 s) before the books
 * are counted. Returns how many were still running when it gave up.
 */
function requestTracker() {
  let inFlight = 0;
  return {
    middleware: async (_ctx, next) => {
      inFlight++;
      try {
        await next();
      } finally {
        inFlight--;
      }
    },
    async idle() {
      const deadline = Date.now() + 30_000;
      let idleSince = inFlight === 0 ? Date.now() : 0;
      while (Date.now() < deadline && !(idleSince && Date.now() - idleSince >= 300)) {
        await new Promise((r) => setTimeout(r, 50));
        if (inFlight > 0) idleSince = 0;
        else if (!idleSince) idleSince = Date.now();
      }
      return inFlight;
    },
  };
}

module.exports = { startChild, procStats, sampler, serveParent, requestTracker };
