import { entryKeyString, type ReportCohort } from '@edgeloop/telemetry';
import type { QueuedReport, StoredAccumulator } from './telemetry-storage.js';

/** Where recorded counts are on their way out. */
export type PendingState =
  /** The period is running: counts are still being added. */
  | 'recording'
  /** The period has ended: it is sealed at the next flush (or timer), under the current config. */
  | 'ended'
  /** Sealed into a noised report that waits in the queue to be sent. */
  | 'queued';

export interface PendingEntry {
  model: string;
  version: string;
  backend: string;
  cohort: ReportCohort | null;
  state: PendingState;
  /** The period, ms since the epoch: [start, end). */
  start: number;
  end: number;
  /** Successful inferences, exact (this never leaves the device). */
  inferences: number;
  /** Failed inferences, exact. */
  errors: number;
}

/** `runtime.telemetry.pending()`: what is recorded and not yet delivered, in exact local counts. */
export interface PendingTelemetry {
  /** Oldest period first; one line per entry, period and state. */
  entries: PendingEntry[];
  /** Why nothing is sealed or sent, when something stops it (no config yet, a config over the device's cap, storage failing). */
  blocked?: string;
}

/** Sums counts per (entry, period, state), from this tab's memory, storage's accumulators and the queue. */
export function pendingView(input: { now: number; accumulators: readonly StoredAccumulator[]; queue: readonly QueuedReport[]; blocked?: string }): PendingTelemetry {
  const lines = new Map<string, PendingEntry>();
  const add = (line: PendingEntry) => {
    const key = `${entryKeyString(line)}\u0001${line.start}\u0001${line.end}\u0001${line.state}`;
    const existing = lines.get(key);
    if (existing) {
      existing.inferences += line.inferences;
      existing.errors += line.errors;
    } else lines.set(key, line);
  };
  for (const { start, end, entry } of input.accumulators) {
    if (entry.attempts === 0) continue;
    add({
      model: entry.model,
      version: entry.version,
      backend: entry.backend,
      cohort: entry.cohort,
      state: end > input.now ? 'recording' : 'ended',
      start,
      end,
      inferences: entry.successes,
      errors: entry.attempts - entry.successes,
    });
  }
  for (const report of input.queue) {
    for (const e of report.entries) add({ ...e, state: 'queued', start: report.start, end: report.start + report.periodMs });
  }
  const entries = [...lines.values()].sort((a, b) => a.start - b.start || a.model.localeCompare(b.model) || a.backend.localeCompare(b.backend));
  return { entries, ...(input.blocked !== undefined && { blocked: input.blocked }) };
}
