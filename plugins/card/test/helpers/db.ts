import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import type { Keyring } from '@payhub/core';
import { migrations } from '../../src/migrations';

/**
 * A real database for unit tests: a fresh SQLite file, or with PAYHUB_TEST_DB=postgres a fresh PostgreSQL
 * database on 127.0.0.1:5432 (dropped by close()). The card plugin's migrations are applied.
 */
export async function testDb(): Promise<{ db: Knex; kind: 'sqlite' | 'postgres'; close(): Promise<void> }> {
  if (process.env.PAYHUB_TEST_DB === 'postgres') {
    const base = process.env.PAYHUB_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
    const name = `card_test_${crypto.randomBytes(6).toString('hex')}`;
    const admin = knexFactory({ client: 'pg', connection: `${base}/postgres`, pool: { min: 0, max: 1 } });
    await admin.raw(`create database ${name}`);
    const db = knexFactory({ client: 'pg', connection: `${base}/${name}`, pool: { min: 0, max: 4 } });
    await migrateUp(db);
    return {
      db,
      kind: 'postgres',
      async close() {
        await db.destroy();
        await admin.raw(`drop database if exists ${name}`);
        await admin.destroy();
      },
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payhub-card-'));
  const db = knexFactory({ client: 'sqlite3', connection: { filename: path.join(dir, 'card.db') }, useNullAsDefault: true, pool: { min: 1, max: 1 } });
  await migrateUp(db);
  return {
    db,
    kind: 'sqlite',
    async close() {
      await db.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function migrateUp(db: Knex): Promise<void> {
  for (const m of migrations) await m.up(db);
}

/**
 * A small versioned AES-256-GCM keyring with the same contract as the hub's (ciphertext `v<version>.iv.tag.data`).
 * Test-only: keys are given in the constructor.
 */
export class TestKeyring implements Keyring {
  private readonly keys = new Map<number, Buffer>();
  private readonly fpKey: Buffer;

  constructor(readonly version: number, keys: Record<number, Buffer>) {
    for (const [v, k] of Object.entries(keys)) this.keys.set(Number(v), k);
    if (!this.keys.has(version)) throw new Error('current key missing');
    this.fpKey = crypto.createHash('sha256').update('fp').update(this.keys.get(Math.min(...this.keys.keys()))!).digest();
  }

  encrypt(plaintext: string, aad = ''): string {
    const iv = crypto.randomBytes(12);
    const c = crypto.createCipheriv('aes-256-gcm', this.keys.get(this.version)!, iv);
    c.setAAD(Buffer.from(aad));
    const data = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return `v${this.version}.${iv.toString('base64url')}.${c.getAuthTag().toString('base64url')}.${data.toString('base64url')}`;
  }

  decrypt(ciphertext: string, aad = ''): string {
    const m = /^v(\d+)\.([\w-]+)\.([\w-]+)\.([\w-]*)$/.exec(ciphertext);
    if (!m) throw new Error('not a keyring ciphertext');
    const key = this.keys.get(Number(m[1]));
    if (!key) throw new Error(`key version ${m[1]} is not configured`);
    const d = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(m[2]!, 'base64url'));
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(Buffer.from(m[3]!, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(m[4]!, 'base64url')), d.final()]).toString('utf8');
  }

  fingerprint(purpose: string, value: string): string {
    return crypto.createHmac('sha256', this.fpKey).update(purpose).update('\0').update(value).digest('hex');
  }

  rewrap(ciphertext: string, aad = ''): string {
    if (ciphertext.startsWith(`v${this.version}.`)) return ciphertext;
    return this.encrypt(this.decrypt(ciphertext, aad), aad);
  }
}

export const fixedClock = (iso: string) => {
  let t = new Date(iso).getTime();
  return { now: () => new Date(t), advance: (ms: number) => { t += ms; } };
};

/** Every value of every column of every table, as text (for leak scans). */
export async function allCellText(db: Knex, kind: 'sqlite' | 'postgres'): Promise<Array<{ table: string; column: string; text: string }>> {
  const tables: string[] = kind === 'postgres'
    ? (await db.raw(`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'`)).rows.map((r: { name: string }) => r.name)
    : (await db.raw(`select name from sqlite_master where type = 'table'`)).map((r: { name: string }) => r.name);
  const out: Array<{ table: string; column: string; text: string }> = [];
  for (const table of tables) {
    const rows: Array<Record<string, unknown>> = await db(table).select('*');
    for (const row of rows) {
      for (const [column, v] of Object.entries(row)) {
        if (v === null || v === undefined) continue;
        const text = Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'object' ? JSON.stringify(v) : String(v);
        out.push({ table, column, text });
      }
    }
  }
  return out;
}

/** Cells that hold a card number (plain, or grouped with spaces/dashes) or a CVC as a standalone value. */
export function findLeaks(cells: Array<{ table: string; column: string; text: string }>, pans: string[], cvcs: string[]): string[] {
  const hits: string[] = [];
  for (const c of cells) {
    const digitsOnly = c.text.replace(/[\s-]/g, '');
    for (const pan of pans) if (c.text.includes(pan) || digitsOnly.includes(pan)) hits.push(`${c.table}.${c.column} holds a card number`);
    for (const cvc of cvcs) {
      if (new RegExp(`(^|[^A-Za-z0-9_-])${cvc}([^A-Za-z0-9_-]|$)`).test(c.text)) hits.push(`${c.table}.${c.column} holds a CVC-like value ${cvc}`);
    }
  }
  return hits;
}
