import pg from 'pg';
import type { Database, Sql } from './database.js';
import { migrate } from './migrations.js';

/**
 * A PostgreSQL server (`DATABASE_URL`) behind the same contract as PGlite: one pool for queries
 * and one dedicated connection for LISTEN, since a pooled connection cannot keep a subscription.
 */
export async function openPostgres(connectionString: string, options: { log?: (message: string) => void } = {}): Promise<Database> {
  const pool = new pg.Pool({ connectionString, max: 10 });
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', (error) => options.log?.(`postgres pool: ${error.message}`));
  let listener: pg.Client | undefined;
  const handlers = new Map<string, Set<(payload: string) => void>>();

  const database: Database = {
    async query<Row extends object>(text: string, params?: unknown[]) {
      return (await pool.query(text, params)).rows as Row[];
    },
    async transaction<T>(fn: (tx: Sql) => Promise<T>) {
      const client = await pool.connect();
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
        await client.query('rollback').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },
    async listen(channel, onMessage) {
      if (!listener) {
        listener = new pg.Client({ connectionString });
        listener.on('error', (error) => options.log?.(`postgres listener: ${error.message}`));
        listener.on('notification', (message) => {
          for (const handler of handlers.get(message.channel) ?? []) handler(message.payload ?? '');
        });
        await listener.connect();
      }
      let set = handlers.get(channel);
      if (!set) {
        set = new Set();
        handlers.set(channel, set);
        await listener.query(`listen ${pg.escapeIdentifier(channel)}`);
      }
      set.add(onMessage);
      return async () => {
        set.delete(onMessage);
      };
    },
    async close() {
      await listener?.end();
      await pool.end();
    },
  };
  await migrate(database);
  return database;
}
