/*
 * Group commit for SQLite's one connection.
 *
 * With `synchronous = FULL` every COMMIT waits for an fsync of the WAL, and the one connection (and its write lock)
 * waits with it. Here the top-level transactions that follow one another on the connection share one physical
 * transaction: each runs inside its own SAVEPOINT (so it commits or rolls back on its own), and one COMMIT makes
 * the whole group durable as soon as no other transaction is queued for the connection.
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
    private readonly exec: RawExec,
    /** Runs fn with the connection once every request queued before it has had the connection. */
    private readonly withConnection: (fn: (conn: unknown) => Promise<void>) => Promise<void>,
  ) {}

  /**
   * The savepoint of the running transaction. Top-level transactions run one at a time on the connection, so one
   * name serves them all (and the prepared-statement caches see one SQL text).
   */
  static readonly SAVEPOINT = 'payhub_tx';

  /** Starts the physical transaction when none is open (write lock taken up front). */
  async begin(conn: unknown): Promise<void> {
    if (this.open) return;
    await this.exec(conn, 'BEGIN IMMEDIATE');
    this.open = true;
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

  /** The physical transaction is gone (an error rolled it back): its members fail. */
  broken(e: unknown): void {
    const batch = this.members;
    this.members = [];
    this.open = false;
    for (const w of batch) w.reject(e);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.withConnection((conn) => this.commit(conn)).catch((e) => this.broken(e));
    });
  }
}
