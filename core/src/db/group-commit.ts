/*
 * Group commit for SQLite's one connection.
 *
 * With `synchronous = FULL` every COMMIT waits for an fsync of the WAL, and the one connection (and its write lock)
 * waits with it. Here the top-level transactions that follow one another on the connection share one physical
 * transaction: each runs inside its own SAVEPOINT (so it commits or rolls back on its own), and one COMMIT makes
 * the whole group durable as soon as no other transaction is queued for the connection.
 *
 * The savepoint stays open between transactions: a transaction's commit releases it and opens the next one in the
 * same call (RELEASE; SAVEPOINT), a rollback rolls back to it and leaves it open, and the group's COMMIT ends it. So a
 * transaction costs one call to the driver beyond its own statements (with the sqlite3 driver each call is a trip
 * to its thread pool while the connection waits).
 *
 * What each transaction keeps:
 *  - atomicity: its savepoint is released (kept) or rolled back (dropped) as a unit;
 *  - isolation: transactions still run one at a time on the one connection, so each sees the ones before it;
 *  - durability: its caller's `await db.transaction(...)` returns only after the group's COMMIT (the fsync) has
 *    succeeded; if that COMMIT fails, every transaction of the group fails with its error. A transaction that rolls
 *    back also waits for the group it may have read from, so no answer is given on data that is not yet durable.
 *  - A statement outside any transaction commits the pending group first, so it never runs inside it or reads
 *    from it.
 */

export interface RawExec {
  (conn: unknown, sql: string): Promise<void> | void;
}

interface Waiter { resolve(): void; reject(e: unknown): void }

export class CommitGroup {
  /** A physical transaction is open on the connection. */
  open = false;
  private members: Waiter[] = [];
  private scheduled = false;

  constructor(
    private readonly rawExec: RawExec,
    /** Runs fn with the connection once every request queued before it has had the connection. */
    private readonly withConnection: (fn: (conn: unknown) => Promise<void>) => Promise<void>,
  ) {}

  /** Told of every statement run here (set to the 'query' event of the knex client in use). */
  onExec: (sql: string) => void = () => undefined;

  private async exec(conn: unknown, sql: string): Promise<void> {
    this.onExec(sql);
    await this.rawExec(conn, sql);
  }

  /**
   * The savepoint of the running transaction. Top-level transactions run one at a time on the connection, so one
   * name serves them all (and the prepared-statement caches see one SQL text).
   */
  static readonly SAVEPOINT = 'payhub_tx';

  /** Starts the physical transaction (write lock taken up front) and the savepoint, unless they are open. */
  async begin(conn: unknown): Promise<void> {
    if (this.open) return;
    await this.exec(conn, `BEGIN IMMEDIATE; SAVEPOINT ${CommitGroup.SAVEPOINT}`);
    this.open = true;
  }

  /** Keeps the running transaction's work and opens the savepoint of the next one. */
  async release(conn: unknown): Promise<void> {
    await this.exec(conn, `RELEASE SAVEPOINT ${CommitGroup.SAVEPOINT}; SAVEPOINT ${CommitGroup.SAVEPOINT}`);
  }

  /** Undoes the running transaction's work; the savepoint stays open for the next one. */
  async undo(conn: unknown): Promise<void> {
    await this.exec(conn, `ROLLBACK TO SAVEPOINT ${CommitGroup.SAVEPOINT}`);
  }

  /** Joins the group: the promise settles when the group's COMMIT has succeeded or failed. */
  enlist(): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.members.push({ resolve, reject }));
    p.catch(() => undefined); // the transaction awaits it; this keeps a failure it ignores from being unhandled
    this.schedule();
    return p;
  }

  /** Commits the open group on `conn`, which the caller holds. */
  async commit(conn: unknown): Promise<void> {
    if (!this.open) return;
    const batch = this.members;
    this.members = [];
    this.open = false;
    try {
      await this.exec(conn, 'COMMIT');
    } catch (e) {
      try {
        await this.exec(conn, 'ROLLBACK');
      } catch {
        // no transaction left to roll back
      }
      for (const w of batch) w.reject(e);
      return;
    }
    for (const w of batch) w.resolve();
  }

  /** The physical transaction is broken (a savepoint call failed): it is rolled back and its members fail. */
  async abort(conn: unknown, e: unknown): Promise<void> {
    this.broken(e);
    try {
      await this.exec(conn, 'ROLLBACK');
    } catch {
      // SQLite rolled it back already
    }
  }

  /** The physical transaction is gone: its members fail. */
  broken(e: unknown): void {
    const batch = this.members;
    this.members = [];
    this.open = false;
    for (const w of batch) w.reject(e);
  }

  /**
   * Commits the group once the connection is free. commit() settles the members itself; a failure here is in
   * getting the connection (a wait past the pool's timeout): the physical transaction is still open and its members
   * still wait, so the COMMIT is tried again rather than failing them while their work could still be committed.
   */
  private schedule(delayMs = 0): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.withConnection((conn) => this.commit(conn)).catch(() => {
        if (this.open) this.schedule(50);
      });
    };
    if (delayMs > 0) setTimeout(run, delayMs);
    else setImmediate(run);
  }
}
