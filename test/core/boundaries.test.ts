import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/paths';

/** Every import/require specifier in a TypeScript or JavaScript file. */
function specifiers(file: string): string[] {
  const src = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
  for (let m = re.exec(src); m; m = re.exec(src)) out.push(m[1]!);
  return out;
}

function walk(dir: string, acc: string[] = []): string[] {
  if (!fs.existsSync(dir)) return acc;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist') continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, acc);
    else if (/\.(ts|js|mjs|cjs)$/.test(e.name) && !e.name.endsWith('.d.ts')) acc.push(p);
  }
  return acc;
}

test('the core never imports a plugin', (t) => {
  const offenders = walk(path.join(ROOT, 'core', 'src')).flatMap((f) => specifiers(f)
    .filter((s) => s.startsWith('@payhub/plugin') || (s.startsWith('.') && path.resolve(path.dirname(f), s).startsWith(path.join(ROOT, 'plugins') + path.sep)))
    .map((s) => `${path.relative(ROOT, f)} imports ${s}`));
  t.deepEqual(offenders, []);
});

test('plugins import only the core\'s public entry, never another plugin or core internals', (t) => {
  const pluginsDir = path.join(ROOT, 'plugins');
  const offenders: string[] = [];
  for (const name of fs.readdirSync(pluginsDir)) {
    const dir = path.join(pluginsDir, name);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of [...walk(path.join(dir, 'src')), ...walk(path.join(dir, 'test'))]) {
      for (const s of specifiers(f)) {
        // `require('../../package.json')` is written for the compiled file (dist/src/x.js): resolve it from there.
        const from = s.endsWith('package.json') ? path.join(dir, 'dist', path.relative(dir, path.dirname(f))) : path.dirname(f);
        const bad = s.startsWith('@payhub/') ? s !== '@payhub/core'
          : s.startsWith('.') ? !path.resolve(from, s).startsWith(dir + path.sep)
          : false;
        if (bad) offenders.push(`${path.relative(ROOT, f)} imports ${s}`);
      }
    }
  }
  t.deepEqual(offenders, []);
});

test('the checker itself catches a deep import', (t) => {
  const tmp = path.join(ROOT, 'build', 'boundary-probe.ts');
  fs.mkdirSync(path.dirname(tmp), { recursive: true });
  fs.writeFileSync(tmp, "import { x } from '@payhub/core/dist/src/engine/service';\nconst y = require('../plugins/card');\n");
  t.deepEqual(specifiers(tmp), ['@payhub/core/dist/src/engine/service', '../plugins/card']);
  fs.rmSync(tmp);
});
