/**
 * `npm run conformance -- <adapter plugin path or npm name> [--only check1,check2] [--option key=value ...]`
 *
 * Loads the plugin, reads its exported `conformance` profile, starts it (createTestHub when the core has it),
 * runs every check and prints one TAP line per check. Exit code: 0 all passed, 1 a check failed, 2 usage or start-up error.
 */
import 'reflect-metadata';
import { checks, runChecks } from './kit';
import { loadAdapterPlugin, startAdapter } from './load';

function usage(): never {
  process.stderr.write('usage: npm run conformance -- <adapter plugin path or npm name> [--only a,b] [--option key=value]\n'
    + `checks: ${checks.map((c) => c.name).join(', ')}\n`);
  process.exit(2);
}

function parseValue(v: string): unknown {
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^-?\d+$/.test(v)) return Number(v);
  return v;
}

export async function main(argv: string[]): Promise<number> {
  let spec: string | undefined;
  let only: string[] | undefined;
  const options: Record<string, unknown> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--only') only = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a === '--option') {
      const kv = argv[++i] ?? '';
      const eq = kv.indexOf('=');
      if (eq <= 0) usage();
      options[kv.slice(0, eq)] = parseValue(kv.slice(eq + 1));
    } else if (a === '--help' || a === '-h') usage();
    else if (!spec) spec = a;
    else usage();
  }
  if (!spec) usage();
  if (only) {
    const unknown = only.filter((n) => !checks.some((c) => c.name === n));
    if (unknown.length) {
      process.stderr.write(`unknown check(s): ${unknown.join(', ')}\n`);
      return 2;
    }
  }

  let started;
  let loaded;
  try {
    loaded = loadAdapterPlugin(spec);
    started = await startAdapter(loaded, options);
  } catch (e) {
    process.stderr.write(`conformance: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    process.stdout.write(`# ${loaded.plugin.name} ${loaded.plugin.version}: adapter "${loaded.profile.adapterId}" (host: ${started.host})\n`);
    const results = await runChecks(started.adapter, loaded.profile, only ? { only } : {});
    const run = results.filter((r) => r.status !== 'not_applicable');
    process.stdout.write(`TAP version 13\n1..${run.length}\n`);
    let n = 0;
    for (const r of results) {
      if (r.status === 'not_applicable') {
        process.stdout.write(`# not applicable: ${r.name}\n`);
        continue;
      }
      n++;
      process.stdout.write(`${r.status === 'passed' ? 'ok' : 'not ok'} ${n} - ${r.name}\n`);
      if (r.message) process.stdout.write(r.message.split('\n').map((l) => `  # ${l}`).join('\n') + '\n');
    }
    const failed = run.filter((r) => r.status === 'failed').length;
    process.stdout.write(`# ${run.length - failed} passed, ${failed} failed\n`);
    return failed ? 1 : 0;
  } catch (e) {
    process.stderr.write(`conformance: ${(e as Error).message}\n`);
    return 2;
  } finally {
    await started.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    process.stderr.write(`conformance: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(2);
  });
}
