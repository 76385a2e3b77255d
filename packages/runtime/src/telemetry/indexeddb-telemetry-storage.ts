import type { IDBPDatabase, IDBPTransaction } from 'idb';
import { emptyBudgetRecord, mergeEntry, type DeviceBudgetRecord } from '@edgeloop/telemetry';
import { RuntimeError } from '../errors.js';
import { accumulatorKey } from './state/merge-deltas.js';
import { openTelemetryDb, type TelemetryDB } from './telemetry-db.js';
import { assertSynchronous, type StoredAccumulator, type TelemetryState, type TelemetryStorage } from './telemetry-storage.js';

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
  /** The one open request; while another tab holds the database at an older version it waits ("blocked"). */
  let connection: Promise<IDBPDatabase<TelemetryDB>> | undefined;
  let blocked: Promise<never> | undefined;
  /** The connection once open, for {@link TelemetryStorage.appendNow}, which cannot wait for it. */
  let opened: IDBPDatabase<TelemetryDB> | undefined;
  const open = (): Promise<IDBPDatabase<TelemetryDB>> => {
    if (connection === undefined) {
      let onBlocked!: () => void;
      blocked = new Promise<never>((_resolve, reject) => {
        onBlocked = () =>
          reject(new RuntimeError('storage', 'another tab of this app holds the telemetry database open at an older version; counts stay in memory until that tab is closed or reloaded'));
      });
      blocked.catch(() => undefined);
      connection = openTelemetryDb(options.name ?? 'edgeloop-telemetry', now, {
        blocked: onBlocked,
        // A newer version of the app wants to upgrade: let it, and open again (and fail) on next use.
        blocking: () => {
          opened?.close();
          opened = undefined;
          connection = undefined;
        },
      }).then(
        (database) => (opened = database),
        (error: unknown) => {
          connection = undefined; // tried again on next use
          throw error;
        },
      );
      connection.catch(() => undefined); // a caller that gave up (blocked) is not there to see it
    }
    // The request stays queued while blocked and completes once the old tab is gone; callers
    // meanwhile get an error instead of waiting forever. (Settled first wins: the connection is listed first.)
    return Promise.race([connection, blocked!]);
  };
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
        const writes: Array<Promise<unknown>> = [
          tx.objectStore('budgets').put({ ...state.budget, app, periodStart: state.period.start, assignments: state.period.assignments }),
        ];
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
      void connection?.then((d) => d.close(), () => undefined);
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
  const period = { start: budget?.periodStart ?? null, assignments: budget?.assignments ?? {} };
  return {
    state: { budget: record, period, accumulators: [...byKey.values()], queue },
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
