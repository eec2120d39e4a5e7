import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Where templates and static files live: next to dist/, not compiled. */
export const PLUGIN_DIR = path.resolve(__dirname, '..', '..');
export const VIEWS_DIR = path.join(PLUGIN_DIR, 'views');
export const PUBLIC_DIR = path.join(PLUGIN_DIR, 'public');

export interface Asset {
  readonly name: string;
  readonly body: Buffer;
  readonly type: string;
  /** Subresource Integrity value (sha384-…). */
  readonly integrity: string;
  /** Short content hash for cache-busting URLs. */
  readonly version: string;
}

const TYPES: Record<string, string> = {
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Reads every file of public/ once, at start, with its SRI hash. Names are relative paths (icons/visa.svg). */
export function loadAssets(dir = PUBLIC_DIR): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const walk = (d: string, prefix: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const name = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p, name);
      else {
        const type = TYPES[path.extname(e.name)];
        if (!type) continue;
        const body = fs.readFileSync(p);
        out.set(name, {
          name, body, type,
          integrity: `sha384-${crypto.createHash('sha384').update(body).digest('base64')}`,
          version: crypto.createHash('sha256').update(body).digest('hex').slice(0, 12),
        });
      }
    }
  };
  walk(dir, '');
  return out;
}
