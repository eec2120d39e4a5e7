import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { registerConformanceTests } from './ava';
import { loadAdapterPlugin, startAdapter } from './load';

// Every check of the kit, as one ava test each, against the sandbox bank started as a plugin.
const loaded = loadAdapterPlugin('@payhub/plugin-sandbox-bank');
registerConformanceTests(test, loaded.profile, () => startAdapter(loaded));

const ROOT = path.resolve(__dirname, '../../..');
const RUN = path.join(ROOT, 'build/test/conformance/run.js');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUN, ...args], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the conformance CLI passes the sandbox bank by path and exits 0', async (t) => {
  const r = await runCli(['plugins/sandbox-bank']);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /^ok \d+ - duplicate-authorize-charges-once$/m);
  t.regex(r.stdout, /^ok \d+ - 3ds-challenge-round-trip$/m);
  t.notRegex(r.stdout, /^not ok/m);
});

test('the conformance CLI refuses a module without a conformance profile (exit 2)', async (t) => {
  const r = await runCli([path.join(ROOT, 'build/test/conformance/fixtures/broken-adapter.js')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /does not export a plugin|conformance profile/);
});
