import crypto from 'node:crypto';

/** Constant-time comparison of two strings (false when lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    crypto.timingSafeEqual(ab, ab);
    return false;
  }
  return crypto.timingSafeEqual(ab, bb);
}

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/*
 * Random bytes for ids come from a pool filled by the CSPRNG 4 KB at a time: one call into it per ~180 ids instead
 * of one per id (ids are made on every write path). Bytes of 248 and above are skipped so every base62 character is
 * equally likely (248 = 4 × 62).
 */
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;

function randomByte(): number {
  if (poolAt >= POOL.length) {
    crypto.randomFillSync(POOL);
    poolAt = 0;
  }
  const b = POOL[poolAt]!;
  POOL[poolAt++] = 0; // a consumed byte does not stay in memory (ids also make API keys)
  return b;
}

/** Random id with a prefix, e.g. newId('ord') → "ord_3kF9…" (22 base62 chars, ~131 bits). */
export function newId(prefix: string, length = 22): string {
  let out = '';
  while (out.length < length) {
    const b = randomByte();
    if (b < 248) out += ALPHABET[b % 62];
  }
  return `${prefix}_${out}`;
}

/** Masks a card number to BIN (6) + last 4: 411111******1111. */
export function maskPan(pan: string): string {
  const d = pan.replace(/\D/g, '');
  if (d.length < 12) return '*'.repeat(d.length);
  return d.slice(0, 6) + '*'.repeat(d.length - 10) + d.slice(-4);
}
