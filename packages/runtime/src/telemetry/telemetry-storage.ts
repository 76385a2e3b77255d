import { emptyBudgetRecord, type DeviceBudgetRecord, type EntryAccumulatorJSON, type ReportCohort } from '@edgeloop/telemetry';
import { RuntimeError } from '../errors.js';
import { mergeDeltas } from './state/merge-deltas.js';

/** What one sealed report carries, in exact local counts: for `pending()` only, never sent. */
export interface QueuedEntrySummary {
  model: string;
  version: string;
  backend: string;
  cohort: ReportCohort | null;
  /** Successful inferences. */
  inferences: number;
  /** Failed inferences. */
  errors: number;
}

/** A sealed report waiting to be sent: the exact JSON, sent as is on every retry (the server drops replays by id). */
export interface QueuedReport {
  reportId: string;
  /** The report's JSON text (schema 3: noised values only). */
  body: string;
  /** The accounting period the report covers: its start (ms since the epoch) and the config's period length. */
  start: number;
  periodMs: number;
  /** After this time (ms since the epoch) the server refuses the report, so it is dropped unsent. */
  expiresAt: number;
  /** What it was made from, exactly, for `pending()`. Stays on the device. */
  entries: QueuedEntrySummary[];
}

/** Raw counts of one entry over one stretch of time [start, end), as recorded (they never leave the device). */
export interface StoredAccumulator {
  start: number;
  end: number;
  entry: EntryAccumulatorJSON;
}

/**
 * Where this device's accounting periods are: they run back to back from `start` (ms since the
 * epoch; null before the first count), each the config's `periodMs` long. A period restarts — the
 * unfinished one is dropped unsent — when the device runs a model under a new release or rollout
 * step (`assignments`: the last one per model), so a rollout's two arms always report equally long,
 * aligned periods.
 */
export interface PeriodClock {
  start: number | null;
  assignments: Record<string, string>;
}

/** Everything the runtime keeps about one app's telemetry. */
export interface TelemetryState {
  /** The device's privacy budget (see `chargeBudget` in @edgeloop/telemetry). */
  budget: DeviceBudgetRecord;
  period: PeriodClock;
  /** Raw counts of periods not sealed yet, one per (period, entry key). */
  accumulators: StoredAccumulator[];
  /** Sealed reports, oldest first. */
  queue: QueuedReport[];
}

/**
 * Where an app's telemetry lives between runs: the queue of sealed reports, the device's privacy
 * budget and the raw counts of periods not sealed yet. An adapter passed in (IndexedDB in browsers,
 * `fileTelemetryStorage` in Node, memory in tests), never detected at import time.
 *
 * Every change goes through {@link transact}: the adapter reads the app's state, hands it to the
 * synchronous `change`, and stores what `change` left, as ONE atomic step across tabs, workers and
 * processes. Sealing a period (charge the budget, queue the report, delete the counts) is one such
 * step, so two tabs can never seal one period twice nor spend the budget twice.
 */
export interface TelemetryStorage {
  /**
   * Applies `change` to `app`'s telemetry and saves the result atomically; resolves with what
   * `change` returned. `change` must be synchronous (an IndexedDB transaction commits as soon as
   * it waits for anything else): one that returns a promise is refused and nothing is saved. When
   * `change` throws, nothing is saved and the error is passed on.
   */
  transact<T>(app: string, change: (state: TelemetryState) => T): Promise<T>;
  /** A copy of `app`'s telemetry as it is now. */
  read(app: string): Promise<TelemetryState>;
  /**
   * For page hide, when a page may be gone before anything it awaits comes back: stores `deltas`
   * without reading anything, its write started before this returns (counts with the same key are
   * added up at the next {@link transact}). Returns false when it cannot (then use `transact`);
   * `failed` is called if the write is later lost. Optional: adapters without pages need none.
   */
  appendNow?(app: string, deltas: readonly StoredAccumulator[], failed: () => void): boolean;
  close?(): void;
}

/** An app with nothing stored yet. */
export function emptyTelemetryState(): TelemetryState {
  return { budget: emptyBudgetRecord(), period: { start: null, assignments: {} }, accumulators: [], queue: [] };
}

/** The start of the period that holds `time`, for periods of `periodMs` running back to back from `anchor`. */
export function periodStartOf(anchor: number, periodMs: number, time: number): number {
  return anchor + Math.floor((time - anchor) / periodMs) * periodMs;
}

/** Refuses a `change` that returned a promise: what it does after its first await would run outside the transaction. */
export function assertSynchronous(result: unknown): void {
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    throw new RuntimeError(
      'invalid_argument',
      'a telemetry storage change must be synchronous: an IndexedDB transaction commits as soon as it waits for anything but its own requests; do the asynchronous work before transact()',
    );
  }
}

/** Telemetry storage in memory: shared by everything holding this object, lost when the process ends. */
export function memoryTelemetryStorage(): TelemetryStorage {
  const apps = new Map<string, TelemetryState>();
  return {
    async transact(app, change) {
      // A copy, so a change that throws (or is refused) leaves the stored state as it was.
      const working = structuredClone(apps.get(app) ?? emptyTelemetryState());
      const result = change(working);
      assertSynchronous(result);
      apps.set(app, working);
      return result;
    },
    async read(app) {
      return structuredClone(apps.get(app) ?? emptyTelemetryState());
    },
    appendNow(app, deltas) {
      const state = apps.get(app) ?? emptyTelemetryState();
      mergeDeltas(state, structuredClone(deltas));
      apps.set(app, state);
      return true;
    },
  };
}
