import { emptyEntry, entryKeyString, mergeEntry } from '@edgeloop/telemetry';
import type { StoredAccumulator, TelemetryState } from '../telemetry-storage.js';

/** Where an accumulator lives: its stretch of time and its entry key. */
export function accumulatorKey(accumulator: StoredAccumulator): string {
  return `${accumulator.start}\u0001${accumulator.end}\u0001${entryKeyString(accumulator.entry)}`;
}

/**
 * Adds counts recorded since the last merge into the stored ones (same stretch of time and entry
 * key: counts add, flags OR, histograms merge). Counts for time the device has already sealed are
 * dropped: that period's report is made, and a second one would spend the budget twice.
 * Runs inside {@link TelemetryStorage.transact}; returns how many deltas were dropped.
 */
export function mergeDeltas(state: TelemetryState, deltas: readonly StoredAccumulator[]): { dropped: number } {
  const index = new Map<string, StoredAccumulator>();
  for (const accumulator of state.accumulators) index.set(accumulatorKey(accumulator), accumulator);
  let dropped = 0;
  for (const delta of deltas) {
    if (delta.start < state.budget.sealedUntil) {
      dropped += 1;
      continue;
    }
    const key = accumulatorKey(delta);
    const stored = index.get(key);
    if (stored) {
      mergeEntry(stored.entry, delta.entry);
    } else {
      const added: StoredAccumulator = { start: delta.start, end: delta.end, entry: mergeEntry(emptyEntry(delta.entry), delta.entry) };
      state.accumulators.push(added);
      index.set(key, added);
    }
  }
  return { dropped };
}
