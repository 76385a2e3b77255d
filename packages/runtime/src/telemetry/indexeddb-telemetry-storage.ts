import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { PrivacyBudgetRecord } from '@edgeloop/telemetry';
import { RuntimeError } from '../errors.js';
import type { QueuedReport, TelemetryStorage } from './telemetry-storage.js';

/** The telemetry IndexedDB schema, apart from the model cache so neither migration touches the other. */
export interface TelemetryDB extends DBSchema {
  /** Sealed reports per app, oldest first by `seq`. */
  reports: { key: number; value: QueuedReport & { app: string; seq?: number }; indexes: { byApp: string; byReportId: string } };
  /** One privacy budget record per app. */
  budget: { key: string; value: PrivacyBudgetRecord & { app: string } };
}

export const TELEMETRY_DB_VERSION = 1;

/**
 * Telemetry storage in IndexedDB (database `edgeloop-telemetry` by default), shared by the app's
 * tabs: each report is its own record, so two tabs never overwrite each other's queue.
 */
export function indexedDbTelemetryStorage(options: { app: string; name?: string }): TelemetryStorage {
  const { app } = options;
  let db: Promise<IDBPDatabase<TelemetryDB>> | undefined;
  const open = () =>
    (db ??= openDB<TelemetryDB>(options.name ?? 'edgeloop-telemetry', TELEMETRY_DB_VERSION, {
      upgrade(database, oldVersion) {
        if (oldVersion < 1) {
          const reports = database.createObjectStore('reports', { keyPath: 'seq', autoIncrement: true });
          reports.createIndex('byApp', 'app');
          reports.createIndex('byReportId', 'reportId', { unique: true });
          database.createObjectStore('budget', { keyPath: 'app' });
        }
      },
    }));
  const failed = (what: string) => (error: unknown) => {
    throw new RuntimeError('storage', `telemetry storage could not ${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  };

  return {
    async enqueue(report, maxReports) {
      const database = await open().catch(failed('open'));
      const tx = database.transaction('reports', 'readwrite');
      await tx.store.add({ ...report, app });
      const keys = await tx.store.index('byApp').getAllKeys(app);
      const dropped: string[] = [];
      for (const key of keys.slice(0, Math.max(0, keys.length - maxReports))) {
        const old = await tx.store.get(key);
        if (old) dropped.push(old.reportId);
        await tx.store.delete(key);
      }
      await tx.done.catch(failed('queue a report'));
      return dropped;
    },
    async peek(limit) {
      const database = await open().catch(failed('open'));
      const rows = await database.getAllFromIndex('reports', 'byApp', app, limit).catch(failed('read the queue'));
      return rows.map(({ app: _app, seq: _seq, ...report }) => report);
    },
    async remove(ids) {
      const database = await open().catch(failed('open'));
      const tx = database.transaction('reports', 'readwrite');
      for (const id of ids) {
        const key = await tx.store.index('byReportId').getKey(id);
        if (key !== undefined) await tx.store.delete(key);
      }
      await tx.done.catch(failed('remove sent reports'));
    },
    budget: {
      get: async function getBudget() {
        const database = await open();
        const row = await database.get('budget', app);
        if (!row) return undefined;
        const { app: _app, ...record } = row;
        return record;
      },
      set: async function setBudget(record) {
        const database = await open();
        await database.put('budget', { ...record, app });
      },
    },
    close() {
      void db?.then((d) => d.close());
    },
  };
}
