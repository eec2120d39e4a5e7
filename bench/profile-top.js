'use strict';
/*
 * Summarises V8 .cpuprofile files (node --cpu-prof): the functions with the most self time, and self time per
 * module (core file, plugin file, npm package, node internals).
 *
 *   node bench/profile-top.js <file.cpuprofile | directory> [--top 30] [--since <ms>]
 *
 * --since skips the first <ms> of the profile (start-up, migrations) so the summary shows the steady state.
 */
const fs = require('node:fs');
const path = require('node:path');

function args() {
  const a = process.argv.slice(2);
  const opt = { top: 30, since: 0, files: [] };
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--top') opt.top = Number(a[++i]);
    else if (a[i] === '--since') opt.since = Number(a[++i]);
    else opt.files.push(a[i]);
  }
  if (!opt.files.length) {
    process.stderr.write('usage: node bench/profile-top.js <file.cpuprofile | dir> [--top N] [--since ms]\n');
    process.exit(2);
  }
  const out = [];
  for (const f of opt.files) {
    if (fs.statSync(f).isDirectory()) for (const g of fs.readdirSync(f)) { if (g.endsWith('.cpuprofile')) out.push(path.join(f, g)); }
    else out.push(f);
  }
  opt.files = out;
  return opt;
}

const ROOT = path.resolve(__dirname, '..');

function moduleOf(url) {
  if (!url) return '(native/V8)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (u.startsWith('node:')) return u.split('/')[0];
  if (u.startsWith(ROOT)) {
    return path.relative(ROOT, u).replace(/\/dist\/src\//, '/src/').replace(/\.js$/, '');
  }
  return u;
}

function summarise(file, { since }) {
  const p = JSON.parse(fs.readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let t = 0;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] || 0;
    t += dt;
    if (t / 1000 < since) continue;
    total += dt;
    self.set(p.samples[i], (self.get(p.samples[i]) || 0) + dt);
  }
  const fns = new Map();
  const mods = new Map();
  for (const [id, us] of self) {
    const n = byId.get(id);
    const cf = n.callFrame;
    const name = cf.functionName || '(anonymous)';
    const mod = moduleOf(cf.url);
    const key = `${name}  ${mod}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fns.set(key, (fns.get(key) || 0) + us);
    const mk = ['(idle)', '(program)', '(garbage collector)'].includes(name) ? name : mod;
    mods.set(mk, (mods.get(mk) || 0) + us);
  }
  return { total, fns, mods };
}

function print(title, map, total, top) {
  process.stdout.write(`\n${title}\n`);
  const rows = [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, us] of rows) process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}\n`);
}

const opt = args();
for (const f of opt.files) {
  const s = summarise(f, opt);
  const idle = s.fns.get([...s.fns.keys()].find((k) => k.startsWith('(idle)')) || '') || 0;
  process.stdout.write(`${f}: ${(s.total / 1e6).toFixed(1)} s sampled, ${((100 * (s.total - idle)) / s.total).toFixed(1)}% busy\n`);
  print('self time by function', s.fns, s.total, opt.top);
  print('self time by module', s.mods, s.total, Math.min(opt.top, 25));
}
