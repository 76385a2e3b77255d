import pg from 'pg';
import { RESYNC, type Database, type Sql } from './database.js';
import { migrate } from './migrations.js';

/**
 * A PostgreSQL server (`DATABASE_URL`) behind the same contract as PGlite: one pool for queries
 * and one dedicated connection for LISTEN, since a pooled connection cannot keep a subscription.
 */
export async function openPostgres(connectionString: string, options: { log?: (message: string) => void } = {}): Promise<Database> {
  // A server that does not answer (failover, network partition) fails a connection attempt after
  // 5 s instead of holding the request forever; keep-alive notices a dead peer on idle sockets.
  const pool = new pg.Pool({ connectionString, max: 10, connectionTimeoutMillis: 5_000, keepAlive: true });
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', (error) => options.log?.(`postgres pool: ${error.message}`));
  let listener: Promise<pg.Client> | undefined;
  let closing = false;
  let retryMs = 250;
  const handlers = new Map<string, Set<(payload: string) => void>>();
  const dispatch = (channel: string, payload: string) => {
    for (const handler of handlers.get(channel) ?? []) handler(payload);
  };

  /** Opens the LISTEN connection and subscribes to every channel someone listens to. */
  const connectListener = async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString });
    client.on('notification', (message) => dispatch(message.channel, message.payload ?? ''));
    // A lost LISTEN connection would silently stop cross-instance updates: reconnect, backing off.
    const lost = (reason: string) => {
      if (closing || listener === undefined) return;
      options.log?.(`postgres listener lost (${reason}); reconnecting in ${retryMs} ms`);
      listener = undefined;
      client.removeAllListeners('end');
      setTimeout(() => void reconnect(), retryMs).unref();
      retryMs = Math.min(retryMs * 2, 10_000);
    };
    client.on('error', (error) => lost(error.message));
    client.on('end', () => lost('connection ended'));
    await client.connect();
    for (const channel of handlers.keys()) await client.query(`listen ${pg.escapeIdentifier(channel)}`);
    return client;
  };
  const reconnect = async () => {
    if (closing || listener !== undefined) return;
    const attempt = connectListener();
    listener = attempt;
    try {
      await attempt;
      retryMs = 250;
      // Whatever was notified while disconnected is lost: tell every listener to re-read.
      for (const channel of handlers.keys()) dispatch(channel, RESYNC);
    } catch (error) {
      listener = undefined;
      options.log?.(`postgres listener reconnect failed: ${(error as Error).message}; retrying in ${retryMs} ms`);
      setTimeout(() => void reconnect(), retryMs).unref();
      retryMs = Math.min(retryMs * 2, 10_000);
    }
  };

  const database: Database = {
    async query<Row extends object>(text: string, params?: unknown[]) {
      return (await pool.query(text, params)).rows as Row[];
    },
    async transaction<T>(fn: (tx: Sql) => Promise<T>) {
      const client = await pool.connect();
      // A checked-out client has no pool listener: a server that goes away between two queries of
      // this transaction (a restart, a failover) emits 'error' on it, an uncaught exception that
      // ended the process without this listener. The failure reaches the caller through the next
      // query; the client is then thrown away, not returned to the pool.
      let broken: Error | undefined;
      const onError = (error: Error) => {
        broken ??= error;
      };
      client.on('error', onError);
      try {
        await client.query('begin');
        const result = await fn({
          async query<Row extends object>(text: string, params?: unknown[]) {
            return (await client.query(text, params)).rows as Row[];
          },
        });
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback').catch((rollbackError: Error) => {
          broken ??= rollbackError; // the connection is unusable: do not pool it
        });
        throw error;
      } finally {
        // Kept on a discarded client: it may still report its socket's end.
        if (!broken) client.off('error', onError);
        client.release(broken);
      }
    },
    async listen(channel, onMessage) {
      let set = handlers.get(channel);
      const subscribe = !set;
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
      }
      if (!listener) {
        listener = connectListener(); // subscribes to every channel in `handlers`, this one included
        await listener;
      } else if (subscribe) {
        await (await listener).query(`listen ${pg.escapeIdentifier(channel)}`);
      }
      set.add(onMessage);
      return async () => {
        set.delete(onMessage);
      };
    },
    async close() {
      closing = true;
      const client = await listener?.catch(() => undefined);
      await client?.end();
      await pool.end();
    },
  };
  await migrate(database);
  return database;
}
