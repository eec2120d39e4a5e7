import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Clock, Db, Keyring } from '@payhub/core';
import { newId } from '@payhub/core';

const scrypt = promisify(crypto.scrypt) as (pw: string, salt: Buffer, keylen: number, o: crypto.ScryptOptions) => Promise<Buffer>;
const N = 16384, R = 8, P = 1, KEYLEN = 32;

export type Role = 'operator' | 'owner' | 'staff' | 'readonly';
export const MERCHANT_ROLES: readonly Role[] = ['owner', 'staff', 'readonly'];

export interface UserRow {
  id: string;
  email: string;
  name: string;
  role: Role;
  merchant_id: string | null;
  password_hash: string | null;
  must_change_password: boolean | number;
  lang: string;
  created_at: string;
  updated_at: string;
}

/** scrypt with a per-user random salt; the parameters are stored with the hash. */
export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.randomBytes(16);
  const h = await scrypt(password, salt, KEYLEN, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${h.toString('base64')}`;
}

const DUMMY = `scrypt$${N}$${R}$${P}$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(KEYLEN).toString('base64')}`;

/** Constant-time check. A missing hash is checked against a dummy so timing does not tell unknown accounts. */
export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const parts = (stored ?? DUMMY).split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p), maxmem: 64 * 1024 * 1024 });
  return crypto.timingSafeEqual(got, expected) && stored !== null;
}

export function passwordProblem(pw: unknown): string | null {
  if (typeof pw !== 'string' || pw.length < 10) return 'password_too_short';
  if (pw.length > 200) return 'password_too_long';
  return null;
}

export function randomPassword(): string {
  return crypto.randomBytes(15).toString('base64url');
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

export interface SessionRow { id_hash: string; user_id: string | null; csrf_token: string; created_at: string; expires_at: string; revoked_at: string | null }

/** Sessions in dashboard_sessions, keyed by the SHA-256 of the random cookie value. */
export class Sessions {
  constructor(private readonly db: Db, private readonly clock: Clock, private readonly hours: number) {}

  async create(userId: string | null): Promise<{ cookie: string; csrf: string }> {
    const cookie = crypto.randomBytes(32).toString('base64url');
    const csrf = crypto.randomBytes(24).toString('base64url');
    const now = this.clock.now();
    await this.db('dashboard_sessions').insert({
      id_hash: sha256(cookie), user_id: userId, csrf_token: csrf, created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + this.hours * 3600_000).toISOString(), revoked_at: null,
    });
    return { cookie, csrf };
  }

  async find(cookie: string | undefined): Promise<SessionRow | null> {
    if (!cookie || cookie.length > 100) return null;
    const s = await this.db<SessionRow>('dashboard_sessions').where({ id_hash: sha256(cookie) }).whereNull('revoked_at').first();
    if (!s || Date.parse(s.expires_at) <= this.clock.now().getTime()) return null;
    return s;
  }

  async revoke(cookie: string): Promise<void> {
    await this.db('dashboard_sessions').where({ id_hash: sha256(cookie) }).update({ revoked_at: this.clock.now().toISOString() });
  }

  /** Logout everywhere. */
  async revokeAll(userId: string): Promise<number> {
    return this.db('dashboard_sessions').where({ user_id: userId }).whereNull('revoked_at').update({ revoked_at: this.clock.now().toISOString() });
  }
}

/** Counting throttle over dashboard_throttle; subjects are keyed fingerprints (no e-mail or IP in clear). */
export class Throttle {
  constructor(private readonly db: Db, private readonly clock: Clock, private readonly keyring: Keyring) {}

  private subject(bucket: string, value: string) {
    return this.keyring.fingerprint(`dashboard-throttle:${bucket}`, value.toLowerCase()).slice(0, 64);
  }

  async count(bucket: string, value: string, windowMs: number): Promise<number> {
    const since = new Date(this.clock.now().getTime() - windowMs).toISOString();
    const r = await this.db('dashboard_throttle').where({ bucket, subject: this.subject(bucket, value) }).where('at', '>', since).count({ n: '*' }).first();
    return Number((r as { n?: unknown } | undefined)?.n ?? 0);
  }

  async hit(bucket: string, value: string): Promise<void> {
    await this.db('dashboard_throttle').insert({ bucket, subject: this.subject(bucket, value), at: this.clock.now().toISOString() });
  }

  async clear(bucket: string, value: string): Promise<void> {
    await this.db('dashboard_throttle').where({ bucket, subject: this.subject(bucket, value) }).del();
  }
}

/** One-time tokens (set-password links); only their hash is stored. */
export async function issueToken(db: Db, clock: Clock, userId: string, purpose: string, hours: number): Promise<string> {
  const token = crypto.randomBytes(32).toString('base64url');
  await db('dashboard_tokens').insert({
    token_hash: sha256(token), user_id: userId, purpose, expires_at: new Date(clock.now().getTime() + hours * 3600_000).toISOString(), used_at: null,
  });
  return token;
}

export async function useToken(db: Db, clock: Clock, token: string, purpose: string): Promise<string | null> {
  if (!token || token.length > 100) return null;
  const now = clock.now().toISOString();
  const row = await db('dashboard_tokens').where({ token_hash: sha256(token), purpose }).whereNull('used_at').first();
  if (!row || row.expires_at <= now) return null;
  const n = await db('dashboard_tokens').where({ token_hash: row.token_hash }).whereNull('used_at').update({ used_at: now });
  return n === 1 ? (row.user_id as string) : null;
}

export async function peekToken(db: Db, clock: Clock, token: string, purpose: string): Promise<boolean> {
  if (!token || token.length > 100) return false;
  const row = await db('dashboard_tokens').where({ token_hash: sha256(token), purpose }).whereNull('used_at').first();
  return Boolean(row && row.expires_at > clock.now().toISOString());
}

export async function createUser(db: Db, clock: Clock, u: { email: string; name?: string; role: Role; merchantId: string | null; password?: string | null; mustChange?: boolean; lang?: string }): Promise<UserRow> {
  const now = clock.now().toISOString();
  const row: UserRow = {
    id: newId('usr'), email: u.email.trim().toLowerCase(), name: u.name ?? '', role: u.role, merchant_id: u.merchantId,
    password_hash: u.password ? await hashPassword(u.password) : null, must_change_password: u.mustChange ?? false,
    lang: u.lang ?? 'en', created_at: now, updated_at: now,
  };
  await db('dashboard_users').insert(row);
  return row;
}
