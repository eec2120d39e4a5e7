import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Keyring } from '../sdk/services';
import type { HubConfig } from '../config/schema';
import { ERR, StartupError } from '../errors';

const b64u = (b: Buffer) => b.toString('base64url');

function parseKey(b64: string, where: string): Buffer {
  const key = Buffer.from(b64.trim(), 'base64');
  if (key.length !== 32) throw new StartupError(ERR.KEY_MISSING, `${where}: a master key must be 32 bytes in base64 (got ${key.length} bytes)`);
  return key;
}

/**
 * AES-256-GCM envelope with versioned keys. Ciphertext: `v<version>.<iv>.<tag>.<data>` (base64url).
 * The key-encryption key comes from configuration or a key file, never from the database.
 */
export class AesKeyring implements Keyring {
  private readonly keys = new Map<number, Buffer>();
  private readonly fpKey: Buffer;

  constructor(readonly version: number, current: Buffer, previous: Record<number, Buffer> = {}, fingerprintKey?: Buffer) {
    this.keys.set(version, current);
    for (const [v, k] of Object.entries(previous)) this.keys.set(Number(v), k);
    // Fingerprints must survive master-key rotation: a configured fingerprint key, else derived from the oldest
    // master key held (keep that one under keys.previous, or set keys.fingerprintKey before retiring it).
    const base = fingerprintKey ?? this.keys.get(Math.min(...this.keys.keys()))!;
    this.fpKey = Buffer.from(crypto.hkdfSync('sha256', base, Buffer.alloc(0), 'payhub-fingerprint', 32));
  }

  encrypt(plaintext: string, aad = ''): string {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.keys.get(this.version)!, iv);
    cipher.setAAD(Buffer.from(aad));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v${this.version}.${b64u(iv)}.${b64u(cipher.getAuthTag())}.${b64u(data)}`;
  }

  decrypt(ciphertext: string, aad = ''): string {
    const m = /^v(\d+)\.([\w-]+)\.([\w-]+)\.([\w-]*)$/.exec(ciphertext);
    if (!m) throw new Error('not a keyring ciphertext');
    const key = this.keys.get(Number(m[1]));
    if (!key) throw new Error(`key version ${m[1]} is not configured`);
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(m[2]!, 'base64url'));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(m[3]!, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(m[4]!, 'base64url')), decipher.final()]).toString('utf8');
  }

  fingerprint(purpose: string, value: string): string {
    return crypto.createHmac('sha256', this.fpKey).update(purpose).update('\0').update(value).digest('hex');
  }

  keyVersionOf(ciphertext: string): number {
    return Number(/^v(\d+)\./.exec(ciphertext)?.[1] ?? NaN);
  }

  rewrap(ciphertext: string, aad = ''): string {
    if (this.keyVersionOf(ciphertext) === this.version) return ciphertext;
    return this.encrypt(this.decrypt(ciphertext, aad), aad);
  }
}

/**
 * Builds the keyring from config. With no master key configured, a development key file is generated
 * (once) and `onDevKey` is called so the caller can warn loudly.
 */
export function keyringFromConfig(config: HubConfig, onDevKey?: (file: string) => void): AesKeyring {
  const previous: Record<number, Buffer> = {};
  for (const [v, k] of Object.entries(config.keys.previous)) previous[Number(v)] = parseKey(k, `keys.previous.${v}`);
  const fp = config.keys.fingerprintKey ? parseKey(config.keys.fingerprintKey, 'keys.fingerprintKey (PAYHUB_FINGERPRINT_KEY)') : undefined;
  if (config.keys.masterKey) return new AesKeyring(config.keys.version, parseKey(config.keys.masterKey, 'keys.masterKey (PAYHUB_MASTER_KEY)'), previous, fp);
  const file = path.resolve(config.rootDir, config.keys.masterKeyFile);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    try {
      fs.writeFileSync(file, crypto.randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  onDevKey?.(file);
  return new AesKeyring(config.keys.version, parseKey(fs.readFileSync(file, 'utf8'), file), previous, fp);
}
