import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import type { DeviceBudgetRecord, EntryAccumulatorJSON } from '@edgeloop/telemetry';
import type { QueuedReport } from './telemetry-storage.js';

/** The telemetry IndexedDB schema, apart from the model cache so neither migration touches the other. */
export interface TelemetryDB extends DBSchema {
  /** Sealed reports of every app, oldest first by `seq`. */
  reports: { key: number; value: QueuedReport & { app: string; seq?: number }; indexes: { byApp: string; byReportId: string } };
  /** One privacy budget record per app, with the app's period clock (where its periods start, the last release and step per model). */
  budgets: { key: string; value: DeviceBudgetRecord & { app: string; periodStart?: number | null; assignments?: Record<string, string> } };
  /** Raw counts of periods not sealed yet, one record per (app, stretch of time, entry key). */
  accumulators: { key: string; value: { id: string; app: string; start: number; end: number; entry: EntryAccumulatorJSON }; indexes: { byApp: string } };
  /** `sealFloor`: periods starting before it are never sealed (the time of the upgrade from version 1). */
  meta: { key: string; value: number };
}

export const TELEMETRY_DB_VERSION = 2;

/**
 * Opens the telemetry database, creating or upgrading it. Version 1 kept an event-level budget per
 * window and schema-2 reports with exact counts: neither means anything now (the server refuses
 * schema 2), so the upgrade deletes both and records its time as `sealFloor` — no period that
 * started before the upgrade is ever sealed, so what the old code sent about today is never added to.
 */
export function openTelemetryDb(name: string, now: () => number, events: { blocked: () => void; blocking: () => void }): Promise<IDBPDatabase<TelemetryDB>> {
  return openDB<TelemetryDB>(name, TELEMETRY_DB_VERSION, {
    upgrade(database, oldVersion, _newVersion, transaction) {
      if (oldVersion < 1) {
        const reports = database.createObjectStore('reports', { keyPath: 'seq', autoIncrement: true });
        reports.createIndex('byApp', 'app');
        reports.createIndex('byReportId', 'reportId', { unique: true });
      }
      if (oldVersion < 2) {
        if (oldVersion >= 1) {
          (database as unknown as IDBPDatabase).deleteObjectStore('budget');
          void transaction.objectStore('reports').clear();
        }
        database.createObjectStore('budgets', { keyPath: 'app' });
        database.createObjectStore('accumulators', { keyPath: 'id' }).createIndex('byApp', 'app');
        const meta = database.createObjectStore('meta');
        if (oldVersion >= 1) void meta.put(now(), 'sealFloor');
      }
    },
    blocked: events.blocked,
    blocking: events.blocking,
  });
}
