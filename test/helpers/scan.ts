import fs from 'node:fs';
import type { Knex } from 'knex';
import { kindOf } from '@payhub/core';

/** Every text-like value of every table (names from the database's own catalogue), as [table.column, value]. */
export async function allTextValues(db: Knex): Promise<Array<[string, string]>> {
  const isPg = kindOf(db) === 'postgres';
  const tables: string[] = isPg
    ? (await db.raw("select tablename from pg_tables where schemaname = 'public'")).rows.map((r: { tablename: string }) => r.tablename)
    : (await db.raw("select name from sqlite_master where type = 'table' and name not like 'sqlite_%'")).map((r: { name: string }) => r.name);
  const out: Array<[string, string]> = [];
  for (const t of tables) {
    const rows = await db(t).select('*');
    for (const row of rows) {
      for (const [col, v] of Object.entries(row as Record<string, unknown>)) {
        if (v === null || v === undefined) continue;
        out.push([`${t}.${col}`, typeof v === 'string' ? v : v instanceof Date ? v.toISOString() : JSON.stringify(v)]);
      }
    }
  }
  return out;
}

/** Places where any needle appears in clear: database values, raw SQLite files (with WAL), log lines. */
export async function findInClear(db: Knex, needles: string[], opts: { sqliteFile?: string; logs?: string[] } = {}): Promise<string[]> {
  const found: string[] = [];
  for (const [where, v] of await allTextValues(db)) for (const n of needles) if (v.includes(n)) found.push(`${where} contains ${n.slice(0, 6)}…`);
  if (opts.sqliteFile) {
    for (const f of [opts.sqliteFile, `${opts.sqliteFile}-wal`, `${opts.sqliteFile}-journal`]) {
      if (!fs.existsSync(f)) continue;
      const bytes = fs.readFileSync(f);
      for (const n of needles) if (bytes.includes(Buffer.from(n))) found.push(`file ${f} contains ${n.slice(0, 6)}…`);
    }
  }
  for (const [i, line] of (opts.logs ?? []).entries()) for (const n of needles) if (line.includes(n)) found.push(`log line ${i} contains ${n.slice(0, 6)}…`);
  return found;
}
