import path from 'node:path';
import { ROOT } from './paths';

/** Loads a compiled core-internal module for white-box tests (plugins never do this; see test/core/boundaries). */
export function internal<T>(mod: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(ROOT, 'core', 'dist', 'src', mod)) as T;
}
