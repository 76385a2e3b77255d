import { PGlite } from '@electric-sql/pglite';
import type { Database, Sql } from './database.js';
import { migrate } from './migrations.js';

/**
 * Opens the embedded database (PGlite, PostgreSQL compiled to WASM) in `directory`, or in memory
 * when `directory` is undefined, and brings its schema up to date.
 */
export async function openPglite(directory?: string): Promise<Database> {
  const pg = directory === undefined ? new PGlite() : new PGlite(directory);
  await pg.waitReady;
  const database: Database = {
    async query<Row extends object>(text: string, params?: unknown[]) {
      const result = await pg.query<Row>(text, params);
      return result.rows;
    },
    async transaction<T>(fn: (tx: Sql) => Promise<T>) {
      return pg.transaction(async (tx) =>
        fn({
          async query<Row extends object>(text: string, params?: unknown[]) {
            return (await tx.query<Row>(text, params)).rows;
          },
        }),
      );
    },
    async listen(channel, onMessage) {
      return pg.listen(channel, onMessage);
    },
    async close() {
      await pg.close();
    },
  };
  await migrate(database);
  return database;
}
