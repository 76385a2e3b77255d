/**
 * The storage contract: the little of SQL the server needs. PGlite implements it in-process; a
 * PostgreSQL pool can implement it for shared deployments. Both speak the same dialect, so there is
 * one schema and one set of migrations.
 */
export interface Sql {
  query<Row extends object = Record<string, unknown>>(text: string, params?: unknown[]): Promise<Row[]>;
}

/** The payload a listener receives after a reconnect: re-read everything it caches. */
export const RESYNC = '*';

export interface Database extends Sql {
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  /**
   * Calls `onMessage` with the payload of every `pg_notify(channel, payload)` committed by any
   * connection, this one included. Resolves once listening; the result stops it. After the
   * listening connection was lost and restored, notifications may have been missed: `onMessage`
   * is then called with {@link RESYNC}, meaning "anything may have changed".
   */
  listen(channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
