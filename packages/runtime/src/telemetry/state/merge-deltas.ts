import { emptyEntry, entryKeyString, mergeEntry } from '@edgeloop/telemetry';
import { periodStartOf, type StoredAccumulator, type TelemetryState } from '../telemetry-storage.js';

/** Where an accumulator lives: its stretch of time and its entry key. */
export function accumulatorKey(accumulator: StoredAccumulator): string {
  return `${accumulator.start}\u0001${accumulator.end}\u0001${entryKeyString(accumulator.entry)}`;
}

/**
 * Adds counts recorded since the last merge into the stored ones (same period and entry key: counts
 * add, flags OR, histograms merge). Periods run back to back from the stored clock; a tab that
 * started counting before it knew the clock has its counts filed in the period that holds them.
 * Counts for time the device has already sealed are dropped (a second report would spend the
 * budget twice), and so are counts from before the clock's start (a period dropped when a new
 * release or step began). Runs inside {@link TelemetryStorage.transact}; returns how many deltas
 * were dropped and where periods start.
 */
export function mergeDeltas(state: TelemetryState, deltas: readonly StoredAccumulator[]): { dropped: number; anchor: number | null } {
  const index = new Map<string, StoredAccumulator>();
  for (const accumulator of state.accumulators) index.set(accumulatorKey(accumulator), accumulator);
  if (state.period.start === null && deltas.length > 0) state.period.start = Math.min(...deltas.map((d) => d.start));
  const anchor = state.period.start;
  let dropped = 0;
  for (const raw of deltas) {
    const length = raw.end - raw.start;
    const start = anchor === null ? raw.start : periodStartOf(anchor, length, raw.start);
    const delta = start === raw.start ? raw : { ...raw, start, end: start + length };
    if (delta.start < state.budget.sealedUntil || (anchor !== null && raw.start < anchor)) {
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
  return { dropped, anchor };
}

/**
 * The device runs `model` under `assignment` (its release and rollout step): the first time, or the
 * same as before, nothing changes; a new one drops the unfinished period's counts (every model's)
 * and starts a new period at `now`, so both arms of a rollout report aligned, equally long periods.
 * Ended periods are kept for sealing. When storage has no periods yet they start at `firstStart`
 * (default `now`): the tab passes the start it is already counting from, so counts it made before
 * this transaction ran are not filed before the clock's start and dropped.
 * Returns whether it restarted and where periods now start.
 */
export function assignModel(
  state: TelemetryState,
  model: string,
  assignment: string,
  now: number,
  periodMs: number,
  firstStart: number = now,
): { restarted: boolean; anchor: number } {
  const previous = state.period.assignments[model];
  state.period.assignments[model] = assignment;
  if (state.period.start === null) {
    state.period.start = firstStart;
    return { restarted: false, anchor: firstStart };
  }
  if (previous === undefined || previous === assignment) return { restarted: false, anchor: state.period.start };
  const current = periodStartOf(state.period.start, periodMs, now);
  state.accumulators = state.accumulators.filter((a) => a.start + periodMs <= now && a.start < current);
  state.period.start = now;
  return { restarted: true, anchor: now };
}
