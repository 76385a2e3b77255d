import {
  chargeBudget,
  checkEntry,
  entryKeyString,
  MAX_REPORT_AGE_MS,
  mergeEntry,
  emptyEntry,
  sealReport,
  type EntryAccumulatorJSON,
  type Rng,
  type TelemetryConfig,
} from '@edgeloop/telemetry';
import type { QueuedEntrySummary, QueuedReport, StoredAccumulator, TelemetryState } from '../telemetry-storage.js';

export interface SealRequest {
  app: string;
  /** The device clock, ms since the epoch. */
  now: number;
  /** The config of the latest verified manifest: period length, ε of every field, latency ranges. */
  config: TelemetryConfig;
  /** The device's own cap over everything it seals in one UTC day. */
  epsilonPerDay: number;
  /** Reports kept at most; the oldest are dropped first. */
  maxQueuedReports: number;
  /** Synchronous randomness (cryptoRng() on devices): sealing runs inside a storage transaction. */
  rng: Rng;
  /** A random report id (crypto.randomUUID()). */
  reportId: () => string;
}

/** Why counts were dropped instead of sealed. */
export type DropReason =
  /** The period was sealed already (by another tab, or before the clock was moved back). */
  | 'already_sealed'
  /** The period ended longer ago than the server accepts (max(2 periods, 48 h)). */
  | 'too_old'
  /** The day's ε (`epsilonPerDay`) is spent. */
  | 'exhausted'
  /** Counted under another period length than the config's. */
  | 'period_changed'
  /** Stored counts that fail their checks. */
  | 'corrupted';

export interface SealOutcome {
  /** Reports made and queued, oldest period first. */
  sealed: Array<{ reportId: string; start: number; epsilon: number }>;
  /** Counts dropped unsealed, per stretch of time. */
  dropped: Array<{ start: number; end: number; reason: DropReason; entries: number }>;
  /** Entries left out of reports over the config's `maxEntries` (the least used ones). */
  droppedEntries: number;
  /** Reports pushed out of a full queue. */
  droppedReports: string[];
}

/** How long after its end a period may still be reported: the server's limit, max(2 periods, 48 h). */
export function maxPeriodAge(periodMs: number): number {
  return Math.max(MAX_REPORT_AGE_MS, 2 * periodMs);
}

/**
 * Seals every period of `config` that has ended: its counts become one noised report (`sealReport`),
 * the budget is charged (`chargeBudget`: daily cap, never twice for one period, nothing at or before
 * the last sealed period), the report is queued and the counts deleted. Counts of periods that have
 * not ended stay (moved onto the config's period boundaries); counts that can never be sealed are
 * dropped. Pure apart from `rng` and `reportId`, and synchronous: it runs inside one storage
 * transaction ({@link TelemetryStorage.transact}), so tabs and processes seal each period once.
 */
export function sealPeriods(state: TelemetryState, request: SealRequest): SealOutcome {
  const { config, now } = request;
  const periodMs = config.periodMs;
  const outcome: SealOutcome = { sealed: [], dropped: [], droppedEntries: 0, droppedReports: [] };
  const drop = (start: number, end: number, reason: DropReason, entries: number) => outcome.dropped.push({ start, end, reason, entries });

  // Group the stored counts by period (each accumulator was filed under its period's start when it
  // was merged); counts kept under another period length than the config's cannot be sealed.
  const periods = new Map<number, Map<string, EntryAccumulatorJSON>>();
  for (const accumulator of state.accumulators) {
    try {
      checkEntry(accumulator.entry);
    } catch {
      drop(accumulator.start, accumulator.end, 'corrupted', 1);
      continue;
    }
    if (!Number.isSafeInteger(accumulator.start) || accumulator.start < 0 || accumulator.end - accumulator.start !== periodMs) {
      drop(accumulator.start, accumulator.end, 'period_changed', 1);
      continue;
    }
    let entries = periods.get(accumulator.start);
    if (!entries) periods.set(accumulator.start, (entries = new Map()));
    const key = entryKeyString(accumulator.entry);
    const existing = entries.get(key);
    if (existing) mergeEntry(existing, accumulator.entry);
    else entries.set(key, mergeEntry(emptyEntry(accumulator.entry), accumulator.entry));
  }

  const kept: StoredAccumulator[] = [];
  // Oldest first: the budget record only moves forward, so a later period sealed first would make
  // the earlier one unsealable.
  for (const start of [...periods.keys()].sort((a, b) => a - b)) {
    const entries = [...periods.get(start)!.values()];
    const end = start + periodMs;
    if (start < state.budget.sealedUntil) {
      drop(start, end, 'already_sealed', entries.length);
    } else if (now - end > maxPeriodAge(periodMs)) {
      drop(start, end, 'too_old', entries.length);
    } else if (end > now) {
      for (const entry of entries) kept.push({ start, end, entry });
    } else {
      sealOne(state, request, start, entries, outcome);
    }
  }
  state.accumulators = kept;
  while (state.queue.length > request.maxQueuedReports) outcome.droppedReports.push(state.queue.shift()!.reportId);
  return outcome;
}

/** Reports name their period by the hour it started in (the server checks it is recent and has ended). */
const HOUR = 3_600_000;

function sealOne(state: TelemetryState, request: SealRequest, start: number, entries: EntryAccumulatorJSON[], outcome: SealOutcome): void {
  const { config, now } = request;
  const end = start + config.periodMs;
  const sealed = sealReport({ app: request.app, period: Math.floor(start / HOUR), config, entries, reportId: request.reportId(), rng: request.rng });
  if (sealed === null) return; // nothing happened in the period: nothing to send, nothing spent
  const { report } = sealed;
  const charge = chargeBudget(state.budget, { now, start, periodMs: config.periodMs, epsilon: report.epsilon, epsilonPerDay: request.epsilonPerDay });
  if (!charge.granted) {
    outcome.dropped.push({ start, end, reason: charge.reason === 'not_ended' ? 'already_sealed' : charge.reason, entries: entries.length });
    return;
  }
  state.budget = charge.record;
  const byKey = new Map(entries.map((e) => [entryKeyString(e), e]));
  const summaries: QueuedEntrySummary[] = report.models.map((m) => {
    const entry = byKey.get(entryKeyString(m))!;
    return {
      model: entry.model,
      version: entry.version,
      backend: entry.backend,
      cohort: entry.cohort,
      inferences: entry.successes,
      errors: entry.attempts - entry.successes,
    };
  });
  const queued: QueuedReport = {
    reportId: report.reportId,
    body: JSON.stringify(report),
    start,
    periodMs: config.periodMs,
    expiresAt: end + maxPeriodAge(config.periodMs),
    entries: summaries,
  };
  state.queue.push(queued);
  outcome.sealed.push({ reportId: report.reportId, start, epsilon: report.epsilon });
  outcome.droppedEntries += sealed.droppedEntries;
}
