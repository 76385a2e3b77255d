import { openDB, type DBSchema, type IDBPDatabase, type IDBPTransaction } from 'idb';
import { emptyBudgetRecord, mergeEntry, type DeviceBudgetRecord, type EntryAccumulatorJSON } from '@edgeloop/telemetry';
import { RuntimeError } from '../errors.js';
import { accumulatorKey } from './state/merge-deltas.js';
import { assertSynchronous, type QueuedReport, type StoredAccumulator, type TelemetryState, type TelemetryStorage } from './telemetry-storage.js';

/** The telemetry IndexedDB schema, apart from the model cache so neither migration touches the other. */
export interface TelemetryDB extends DBSchema {
  /** Sealed reports of every app, oldest first by `seq`. */
  reports: { key: number; value: QueuedReport & { app: string; seq?: number }; indexes: { byApp: string; byReportId: string } };
  /** One privacy budget record per app. */
  budgets: { key: string; value: DeviceBudgetRecord & { app: string } };
  /** Raw counts of periods not sealed yet, one record per (app, stretch of time, entry key). */
  accumulators: { key: string; value: { id: string; app: string; start: number; end: number; entry: EntryAccumulatorJSON }; indexes: { byApp: string } };
  /** `sealFloor`: periods starting before it are never sealed (the time of the upgrade from version 1). */
  meta: { key: string; value: number };
}

export const TELEMETRY_DB_VERSION = 2;

const STORES = ['reports', 'budgets', 'accumulators', 'meta'] as const;
type Tx = IDBPTransaction<TelemetryDB, typeof STORES, 'readwrite' | 'readonly'>;

export interface IndexedDbTelemetryStorageOptions {
  /** Database name; default `edgeloop-telemetry`. */
  name?: string;
  /** Clock used to date an upgrade from version 1; for tests. */
  now?: () => number;
}

/**
 * Telemetry storage in IndexedDB (database `edgeloop-telemetry`), shared by every tab and worker of
 * the origin. Each {@link TelemetryStorage.transact} is ONE readwrite transaction over all four
 * stores; IndexedDB runs overlapping readwrite transactions one after another across the whole
 * origin, so two tabs sealing at once seal a period once. Inside the transaction nothing is awaited
 * but its own requests (sealing draws its randomness from `crypto.getRandomValues`, synchronously).
 *
 * Upgrading from version 1 (event-level budget, schema-2 reports): the old budget and queued
 * reports are deleted, and the upgrade time becomes a floor — no period that started before it is
 * ever sealed, so what the old code already sent about today is never added to by the new code.
 */
export function indexedDbTelemetryStorage(options: IndexedDbTelemetryStorageOptions = {}): TelemetryStorage {
  const now = options.now ?? Date.now;
  let db: Promise<IDBPDatabase<TelemetryDB>> | undefined;
  /** The connection once open, for {@link TelemetryStorage.appendNow}, which cannot wait for it. */
  let opened: IDBPDatabase<TelemetryDB> | undefined;
  const open = () =>
    (db ??= openDB<TelemetryDB>(options.name ?? 'edgeloop-telemetry', TELEMETRY_DB_VERSION, {
      upgrade(database, oldVersion, _newVersion, transaction) {
        if (oldVersion < 1) {
          const reports = database.createObjectStore('reports', { keyPath: 'seq', autoIncrement: true });
          reports.createIndex('byApp', 'app');
          reports.createIndex('byReportId', 'reportId', { unique: true });
        }
        if (oldVersion < 2) {
          if (oldVersion >= 1) {
            // Version 1 kept an event-level budget per window and schema-2 reports with exact counts:
            // neither means anything now, and the server refuses schema 2.
            (database as unknown as IDBPDatabase).deleteObjectStore('budget');
            void transaction.objectStore('reports').clear();
          }
          database.createObjectStore('budgets', { keyPath: 'app' });
          database.createObjectStore('accumulators', { keyPath: 'id' }).createIndex('byApp', 'app');
          const meta = database.createObjectStore('meta');
          if (oldVersion >= 1) void meta.put(now(), 'sealFloor');
        }
      },
    }).then((database) => (opened = database)));
  const failed = (what: string) => (error: unknown) => {
    if (error instanceof RuntimeError) throw error;
    throw new RuntimeError('storage', `telemetry storage could not ${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  };

  return {
    async transact(app, change) {
      const database = await open().catch(failed('open'));
      const tx = database.transaction(STORES, 'readwrite');
      try {
        const { state, reportSeq, accumulatorIds } = await readState(tx, app);
        const result = change(state);
        assertSynchronous(result);
        const writes: Array<Promise<unknown>> = [tx.objectStore('budgets').put({ ...state.budget, app })];
        const keepIds = new Set<string>();
        for (const accumulator of state.accumulators) {
          const id = `${app}\u0002${accumulatorKey(accumulator)}`;
          keepIds.add(id);
          writes.push(tx.objectStore('accumulators').put({ id, app, start: accumulator.start, end: accumulator.end, entry: accumulator.entry }));
        }
        for (const id of accumulatorIds) if (!keepIds.has(id)) writes.push(tx.objectStore('accumulators').delete(id));
        const queued = new Set(state.queue.map((r) => r.reportId));
        for (const [reportId, seq] of reportSeq) if (!queued.has(reportId)) writes.push(tx.objectStore('reports').delete(seq));
        for (const report of state.queue) if (!reportSeq.has(report.reportId)) writes.push(tx.objectStore('reports').add({ ...report, app }));
        await Promise.all(writes);
        await tx.done;
        return result;
      } catch (error) {
        abortQuietly(tx);
        return failed('save telemetry')(error);
      }
    },
    async read(app) {
      const database = await open().catch(failed('open'));
      const tx = database.transaction(STORES, 'readonly');
      const { state } = await readState(tx, app).catch(failed('read telemetry'));
      return state;
    },
    appendNow(app, deltas, failed) {
      if (opened === undefined) return false;
      let tx;
      try {
        tx = opened.transaction('accumulators', 'readwrite');
      } catch {
        return false; // the connection is closing: the caller keeps the counts
      }
      // Blind puts under fresh ids, committed at once: nothing here waits for a result, so the
      // write is in the browser's hands even if the page is gone a moment later.
      for (const delta of deltas) {
        const id = `${app}\u0002${accumulatorKey(delta)}\u0002${crypto.randomUUID()}`;
        void tx.store.put({ id, app, start: delta.start, end: delta.end, entry: delta.entry }).catch(() => undefined);
      }
      tx.commit();
      tx.done.catch(failed);
      return true;
    },
    close() {
      opened = undefined;
      void db?.then((d) => d.close(), () => undefined);
    },
  };
}

/** Reads one app's state inside `tx`: only IndexedDB requests are awaited, so `tx` stays active. */
async function readState(tx: Tx, app: string): Promise<{ state: TelemetryState; reportSeq: Map<string, number>; accumulatorIds: string[] }> {
  const [budget, floor, accumulators, reports] = await Promise.all([
    tx.objectStore('budgets').get(app),
    tx.objectStore('meta').get('sealFloor'),
    tx.objectStore('accumulators').index('byApp').getAll(app),
    tx.objectStore('reports').index('byApp').getAll(app),
  ]);
  const record: DeviceBudgetRecord = budget ? { day: budget.day, spentMicros: budget.spentMicros, sealedUntil: budget.sealedUntil } : emptyBudgetRecord();
  if (floor !== undefined && record.sealedUntil < floor) record.sealedUntil = floor;
  const reportSeq = new Map<string, number>();
  const queue = reports
    .sort((a, b) => a.seq! - b.seq!)
    .map(({ app: _app, seq, ...report }) => {
      reportSeq.set(report.reportId, seq!);
      return report;
    });
  // appendNow() leaves several records under one key: they are added up here (and saved as one).
  const byKey = new Map<string, StoredAccumulator>();
  for (const { start, end, entry } of accumulators) {
    const accumulator = { start, end, entry };
    const key = accumulatorKey(accumulator);
    const existing = byKey.get(key);
    if (!existing) byKey.set(key, accumulator);
    else {
      try {
        mergeEntry(existing.entry, entry);
      } catch {
        // A record that cannot be added (corrupted): left out, as sealing would drop it.
      }
    }
  }
  return {
    state: { budget: record, accumulators: [...byKey.values()], queue },
    reportSeq,
    accumulatorIds: accumulators.map((a) => a.id),
  };
}

function abortQuietly(tx: Tx): void {
  try {
    tx.abort();
  } catch (error) {
    // Already finished (committed early or aborted by the failure itself): nothing left to undo.
    if ((error as Error | null)?.name !== 'InvalidStateError') throw error;
  }
  tx.done.catch(() => undefined);
}
