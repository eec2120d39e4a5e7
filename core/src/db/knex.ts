import fs from 'node:fs';
import path from 'node:path';
import knexFactory, { type Knex } from 'knex';
import { ERR, StartupError, PayhubError } from '../errors';
import { CommitGroup, type RawExec } from './group-commit';

export type DbKind = 'sqlite' | 'postgres';

/* eslint-disable @typescript-eslint/no-require-imports */
// knex's SQLite clients issue a plain BEGIN (a deferred transaction). A deferred transaction that reads and then
// writes fails with SQLITE_BUSY without calling the busy handler when another connection writes in between, so
// every write transaction here starts with BEGIN IMMEDIATE instead (the write lock is taken up front). With group
// commit (the default, see group-commit.ts) a top-level transaction is a savepoint inside the group's physical
// transaction, and its caller resumes once the group's COMMIT is durable.
const SqliteTransaction = require('knex/lib/dialects/sqlite3/execution/sqlite-transaction');

const groups = new WeakMap<object, CommitGroup>();
type KnexClientLike = {
  config: { groupCommit?: boolean }; acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): unknown; rawExec: RawExec;
  emit(event: 'query', q: { sql: string; bindings: unknown[] }): void;
};
/** The commit group of a SQLite connection (null when group commit is off). */
function groupOf(client: KnexClientLike, conn: object): CommitGroup | null {
  if (client.config.groupCommit === false) return null;
  let g = groups.get(conn);
  if (!g) {
    g = new CommitGroup(client.rawExec, async (fn) => {
      const c = await client.acquireConnection();
      try {
        await fn(c);
      } finally {
        client.releaseConnection(c);
      }
    });
    groups.set(conn, g);
  }
  // knex may hand a transaction a copy of the client (withUserParams): its 'query' listeners are told.
  g.onExec = (sql) => client.emit('query', { sql, bindings: [] });
  return g;
}
/** Commits the connection's pending group (before a statement outside any transaction, or before closing). */
async function settleGroup(conn: object): Promise<void> {
  const g = groups.get(conn);
  if (g?.open) await g.commit(conn);
}

type TxSelf = {
  readOnly?: boolean; client: KnexClientLike; trxClient: { query(conn: unknown, sql: string): Promise<unknown> };
  query(conn: unknown, sql: string, status?: number, value?: unknown): Promise<unknown>;
  __group?: CommitGroup | null; __durable?: Promise<void>; _completed: boolean;
  _resolver(v: unknown): void; _rejecter(e: unknown): void;
  settle(g: CommitGroup, step: Promise<void> | null, done: () => void, conn?: object): Promise<void>;
};
class ImmediateTransaction extends SqliteTransaction {
  begin(this: TxSelf, conn: object) {
    const g = (this.__group = groupOf(this.client, conn));
    if (!g) return this.query(conn, this.readOnly ? 'BEGIN DEFERRED;' : 'BEGIN IMMEDIATE;');
    // A read-only transaction writes nothing to keep or undo: it reads where it stands (inside the pending group,
    // if one is open) and waits for that group to be durable. No statement of its own.
    if (this.readOnly) return Promise.resolve();
    return g.begin(conn);
  }

  commit(this: TxSelf, conn: object, value: unknown) {
    const g = this.__group;
    if (!g) return this.query(conn, 'COMMIT;', 1, value);
    if (this.readOnly) return this.settle(g, null, () => this._resolver(value));
    this.__durable = g.enlist();
    return this.settle(g, g.release(conn), () => this._resolver(value), conn);
  }

  rollback(this: TxSelf, conn: object, error: unknown) {
    const g = this.__group;
    if (!g) return super.rollback(conn, error);
    const done = () => (error === undefined ? this._resolver(undefined) : this._rejecter(error));
    if (this.readOnly) return this.settle(g, null, done);
    this.__durable = g.enlist();
    return this.settle(g, g.undo(conn), done, conn);
  }

  /**
   * Ends a grouped transaction after `step` (its savepoint call): a read-only one joins the pending group, if any.
   * If the savepoint call fails, the physical transaction is broken: the whole group fails with that error.
   */
  async settle(this: TxSelf, g: CommitGroup, step: Promise<void> | null, done: () => void, conn?: object): Promise<void> {
    if (!step) {
      if (g.open) this.__durable = g.enlist();
    } else {
      try {
        await step;
      } catch (e) {
        await g.abort(conn, e);
        this._completed = true;
        this._rejecter(e);
        return;
      }
    }
    this._completed = true;
    done();
  }

  /** The caller resumes once the group holding this transaction is durable (or has failed). */
  async _evaluateContainer(this: TxSelf & { __proto__: unknown }, config: unknown, container: unknown) {
    let value: unknown;
    try {
      value = await (SqliteTransaction.prototype._evaluateContainer as (c: unknown, k: unknown) => Promise<unknown>).call(this, config, container);
    } catch (e) {
      await this.__durable?.catch(() => undefined);
      throw e;
    }
    await this.__durable;
    return value;
  }
}
function immediateClient(base: new (...a: unknown[]) => object, rawExec: RawExec) {
  type Base = { transaction(...a: unknown[]): unknown; destroyRawConnection(c: unknown): Promise<unknown> };
  return class extends (base as new (...a: unknown[]) => Base) {
    rawExec = rawExec;

    override transaction(...args: unknown[]) {
      return new (ImmediateTransaction as unknown as new (...a: unknown[]) => unknown)(this, ...args);
    }

    override async destroyRawConnection(connection: object) {
      await settleGroup(connection).catch(() => undefined);
      return super.destroyRawConnection(connection);
    }
  };
}
const betterExec: RawExec = (conn, sql) => {
  (conn as { exec(s: string): void }).exec(sql);
};
const sqlite3Exec: RawExec = (conn, sql) => new Promise<void>((resolve, reject) => {
  (conn as { exec(s: string, cb: (e: Error | null) => void): void }).exec(sql, (e) => (e ? reject(e) : resolve()));
});
const Sqlite3Client = cachedSqlite3Statements(immediateClient(require('knex/lib/dialects/sqlite3'), sqlite3Exec));
const BetterSqlite3Client = cachedStatements(immediateClient(require('knex/lib/dialects/better-sqlite3'), betterExec));

/*
 * knex's sqlite3 client runs each query through Database#run/#all, which prepares, runs and finalizes a statement:
 * two trips to the driver's thread per query, each waiting for the event loop, while the one connection (and, in a
 * transaction, the write lock) waits. Here a statement is prepared once per SQL text and reused: one trip.
 */
interface Sqlite3Statement {
  run(b: unknown, cb: (this: { lastID: unknown; changes: number }, err: Error | null) => void): void;
  all(b: unknown, cb: (err: Error | null, rows: unknown[]) => void): void;
  finalize(cb?: () => void): void;
}
interface Sqlite3Connection { prepare(sql: string, cb: (err: Error | null) => void): Sqlite3Statement; close(cb: (e: Error | null) => void): void }
function cachedSqlite3Statements(base: new (...a: unknown[]) => object) {
  const caches = new WeakMap<object, Map<string, Sqlite3Statement>>();
  const finalizeAll = (cache: Map<string, Sqlite3Statement>) => Promise.all([...cache.values()].map((st) => new Promise<void>((r) => st.finalize(() => r()))));
  type Base = { destroyRawConnection(c: unknown): Promise<unknown> };
  return class extends (base as new (...a: unknown[]) => Base) {
    override async destroyRawConnection(connection: Sqlite3Connection) {
      const cache = caches.get(connection);
      if (cache) {
        caches.delete(connection);
        await finalizeAll(cache);
      }
      return super.destroyRawConnection(connection);
    }

    async _query(connection: Sqlite3Connection, obj: Record<string, any>) { // eslint-disable-line @typescript-eslint/no-explicit-any
      if (!obj.sql) throw new Error('The query is empty');
      if (!connection) throw new Error('No connection provided');
      if (!(this as { transacting?: boolean }).transacting) await settleGroup(connection);
      const run = obj.method === 'counter' || obj.method === 'del' || ((obj.method === 'insert' || obj.method === 'update') && !obj.returning);
      let cache = caches.get(connection);
      if (!cache) caches.set(connection, (cache = new Map()));
      let st = cache.get(obj.sql);
      if (!st) {
        // Cached only once prepared: a statement that fails to prepare reports the error here and is not kept.
        st = await new Promise<Sqlite3Statement>((resolve, reject) => {
          const p = connection.prepare(obj.sql, (err) => (err ? reject(err) : resolve(p)));
        });
        if (cache.size >= STATEMENT_CACHE_MAX) {
          void finalizeAll(cache);
          cache.clear();
        }
        cache.set(obj.sql, st);
      }
      const statement = st;
      const bindings = obj.bindings ?? [];
      return new Promise((resolve, reject) => {
        if (run) {
          statement.run(bindings, function (err) {
            if (err) return reject(err);
            obj.response = undefined;
            obj.context = { lastID: this.lastID, changes: this.changes };
            resolve(obj);
          });
        } else {
          statement.all(bindings, (err, rows) => {
            if (err) return reject(err);
            obj.response = rows;
            obj.context = { lastID: undefined, changes: 0 };
            resolve(obj);
          });
        }
      });
    }
  };
}

// knex's better-sqlite3 client prepares every query afresh; the same SQL text (with bindings) reuses its statement.
const STATEMENT_CACHE_MAX = 500;
interface BetterStatement { reader: boolean; all(b: unknown[]): unknown[]; run(b: unknown[]): { lastInsertRowid: unknown; changes: number } }
function cachedStatements(base: new (...a: unknown[]) => object) {
  const caches = new WeakMap<object, Map<string, BetterStatement>>();
  type Base = { _optSafeIntegers(o: unknown): boolean | undefined; _formatBindings(b: unknown): unknown[] };
  return class extends (base as new (...a: unknown[]) => Base) {
    async _query(connection: { prepare(sql: string): BetterStatement & { safeIntegers(v: boolean): void } }, obj: Record<string, any>) { // eslint-disable-line @typescript-eslint/no-explicit-any
      if (!obj.sql) throw new Error('The query is empty');
      if (!connection) throw new Error('No connection provided');
      if (!(this as { transacting?: boolean }).transacting) await settleGroup(connection);
      const safeIntegers = this._optSafeIntegers(obj.options);
      let statement: BetterStatement;
      if (safeIntegers === undefined) {
        let cache = caches.get(connection);
        if (!cache) caches.set(connection, (cache = new Map()));
        statement = cache.get(obj.sql)!;
        if (!statement) {
          statement = connection.prepare(obj.sql);
          if (cache.size >= STATEMENT_CACHE_MAX) cache.clear();
          cache.set(obj.sql, statement);
        }
      } else {
        const s = connection.prepare(obj.sql);
        s.safeIntegers(safeIntegers);
        statement = s;
      }
      const bindings = this._formatBindings(obj.bindings);
      if (statement.reader) {
        obj.response = statement.all(bindings);
        return obj;
      }
      const response = statement.run(bindings);
      obj.response = response;
      obj.context = { lastID: response.lastInsertRowid, changes: response.changes };
      return obj;
    }
  };
}

/*
 * PostgreSQL: every data statement runs as a named prepared statement, parsed and planned once per connection
 * (pg sends Bind/Execute only afterwards), as hand-written code would. Names are given per SQL text, at most
 * PG_NAMED_MAX of them (knex makes a bounded set of texts; beyond that, statements run unnamed). If the server
 * refuses a cached plan (a migration changed a table under a running hub: "cached plan must not change result
 * type"), the text gets a fresh name, and a statement outside a transaction is retried once.
 */
const PG_NAMED_MAX = 2000;
const PG_NAMED = /^\s*(select|insert|update|delete|with)\b/i;
interface PgConnection { query(c: Record<string, unknown>, cb: (e: Error | null, r: unknown) => void): void; parsedStatements?: Record<string, string> }
const pgNames = new Map<string, string>();
let pgNameSeq = 0;
function pgName(sql: string): string | undefined {
  let n = pgNames.get(sql);
  if (!n && pgNames.size < PG_NAMED_MAX && PG_NAMED.test(sql)) pgNames.set(sql, (n = `payhub_${(pgNameSeq++).toString(36)}`));
  return n;
}
const PgBase = require('knex/lib/dialects/postgres') as new (...a: unknown[]) => object;
class PgClient extends (PgBase as new (...a: unknown[]) => { transacting?: boolean }) {
  async _query(connection: PgConnection, obj: Record<string, any>): Promise<unknown> { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (!obj.sql) throw new Error('The query is empty');
    const run = (name: string | undefined) => new Promise<unknown>((resolve, reject) => {
      const config: Record<string, unknown> = { text: obj.sql, values: obj.bindings || [], ...(name ? { name } : {}), ...(obj.options ?? {}) };
      connection.query(config, (err, response) => {
        if (err) return reject(err);
        obj.response = response;
        resolve(obj);
      });
    });
    const name = obj.options && Object.keys(obj.options).length ? undefined : pgName(obj.sql);
    try {
      return await run(name);
    } catch (e) {
      if (!name || (e as { code?: string }).code !== '0A000' || !/cached plan/.test((e as Error).message)) throw e;
      pgNames.delete(obj.sql);
      if (connection.parsedStatements) delete connection.parsedStatements[name];
      if (this.transacting) throw e;
      return run(pgName(obj.sql));
    }
  }
}

let pgTypesSet = false;
function setPgTypes(): void {
  if (pgTypesSet) return;
  const pg = require('pg');
  // int8 comes back as a string by default; money columns are bigint minor units well inside 2^53.
  pg.types.setTypeParser(20, (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${v} is beyond 2^53`);
    return n;
  });
  pgTypesSet = true;
}

export interface DbOptions {
  url: string;
  sqliteDriver?: 'sqlite3' | 'better-sqlite3';
  poolMax?: number;
  rootDir?: string;
  /** SQLite: top-level transactions share one durable COMMIT (group-commit.ts). Default true. */
  groupCommit?: boolean;
}

export function dbKind(url: string): DbKind {
  return url.startsWith('sqlite:') ? 'sqlite' : 'postgres';
}

/** Path of the SQLite file for a `sqlite:<path>` URL (relative paths resolve against rootDir). */
export function sqlitePath(url: string, rootDir: string): string {
  const p = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  if (p === ':memory:') return p;
  return path.resolve(rootDir, p);
}

/**
 * Creates the knex instance. SQLite: one connection (one writer), WAL, foreign keys on, a busy timeout, and
 * BEGIN IMMEDIATE for write transactions. PostgreSQL: a pool over `pg`.
 */
export function createDb(opts: DbOptions): Knex {
  const rootDir = opts.rootDir ?? process.cwd();
  if (dbKind(opts.url) === 'sqlite') {
    const filename = sqlitePath(opts.url, rootDir);
    if (filename !== ':memory:') fs.mkdirSync(path.dirname(filename), { recursive: true });
    const better = opts.sqliteDriver === 'better-sqlite3';
    return knexFactory(<Knex.Config & { groupCommit: boolean }>{
      client: (better ? BetterSqlite3Client : Sqlite3Client) as unknown as typeof knexFactory.Client,
      connection: { filename },
      useNullAsDefault: true,
      groupCommit: opts.groupCommit !== false,
      pool: {
        min: 1,
        max: 1,
        afterCreate(conn: unknown, done: (err: Error | null, conn: unknown) => void) {
          const pragmas = [
            'PRAGMA journal_mode = WAL',
            'PRAGMA foreign_keys = ON',
            'PRAGMA busy_timeout = 5000',
            'PRAGMA synchronous = FULL',
          ];
          try {
            if (better) {
              for (const p of pragmas) (conn as { pragma(s: string): unknown }).pragma(p.replace(/^PRAGMA /, ''));
              done(null, conn);
            } else {
              const c = conn as { exec(sql: string, cb: (e: Error | null) => void): void };
              c.exec(pragmas.join(';'), (e) => done(e, conn));
            }
          } catch (e) {
            done(e as Error, conn);
          }
        },
      },
      acquireConnectionTimeout: 30_000,
    });
  }
  setPgTypes();
  return knexFactory({
    client: PgClient as unknown as typeof knexFactory.Client,
    connection: opts.url,
    pool: { min: 0, max: opts.poolMax ?? 10 },
    acquireConnectionTimeout: 30_000,
  });
}

export function kindOf(db: Knex): DbKind {
  const c = db.client as { dialect?: string; config?: { client?: unknown } };
  const name = c.config?.client;
  return c.dialect === 'postgresql' || name === 'pg' || name === 'postgres' || name === 'postgresql' ? 'postgres' : 'sqlite';
}

/** Fails start with a clear message when the database cannot be reached. */
export async function checkDb(db: Knex, url: string): Promise<void> {
  try {
    await db.raw('select 1');
  } catch (e) {
    const safeUrl = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
    throw new StartupError(ERR.DATABASE_UNREACHABLE, `database ${safeUrl} is not reachable: ${(e as Error).message}`, e);
  }
}

/** True when the error is a unique-constraint violation on either driver. */
export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err?.code === '23505' || err?.code === 'SQLITE_CONSTRAINT_UNIQUE' || err?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
    || /UNIQUE constraint failed|duplicate key value/.test(err?.message ?? '');
}

/** Runs fn in one transaction; unique violations become 409 conflicts with the given code. */
export async function tx<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>, uniqueCode?: string): Promise<T> {
  try {
    return await db.transaction(fn);
  } catch (e) {
    if (uniqueCode && isUniqueViolation(e)) throw new PayhubError(uniqueCode, 'A record with these values exists already', { status: 409, cause: e });
    throw e;
  }
}

/** `SELECT … FOR UPDATE` on PostgreSQL; SQLite's write transaction already holds the database lock. */
export function forUpdate<T extends Knex.QueryBuilder>(db: Knex, q: T): T {
  return kindOf(db) === 'postgres' ? (q.forUpdate() as T) : q;
}

/**
 * Runs reads that are answered to the outside world. On SQLite with group commit they run in a transaction of their
 * own, so they join the pending group (instead of committing it first, as a statement outside any transaction does)
 * and return once what they read is durable. Elsewhere they run directly.
 */
export function durableRead<T>(db: Knex, fn: (q: Knex | Knex.Transaction) => Promise<T>): Promise<T> {
  const groupCommit = (db.client as { config?: { groupCommit?: boolean } }).config?.groupCommit === true;
  return groupCommit ? db.transaction((trx) => fn(trx), { readOnly: true }) : fn(db);
}
