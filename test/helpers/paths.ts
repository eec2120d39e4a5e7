import path from 'node:path';

/** The repository root (tests run from build/test/**). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const fixturePlugin = (name: string) => path.join(ROOT, 'test', 'fixtures', 'plugins', name);
export const repoPlugin = (name: string) => path.join(ROOT, 'plugins', name);
export const CLI = path.join(ROOT, 'core', 'bin', 'payhub.js');
