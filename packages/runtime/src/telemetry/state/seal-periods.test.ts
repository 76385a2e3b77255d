import { describe, expect, it } from 'vitest';
import { defaultTelemetryConfig, emptyEntry, LatencyHistogram, parseReport, seededRng, type EntryAccumulatorJSON } from '@edgeloop/telemetry';
import { emptyTelemetryState, type StoredAccumulator, type TelemetryState } from '../telemetry-storage.js';
import { assignModel, mergeDeltas } from './merge-deltas.js';
import { sealPeriods, type SealRequest } from './seal-periods.js';

const DAY = 86_400_000;
const config = defaultTelemetryConfig('tc_test');
let ids = 0;
const request = (now: number, patch: Partial<SealRequest> = {}): SealRequest => ({
  app: 'demo',
  now,
  config,
  epsilonPerDay: 8,
  maxQueuedReports: 64,
  rng: seededRng(1),
  reportId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`,
  ...patch,
});

function delta(start: number, end: number, attempts: number, patch: Partial<EntryAccumulatorJSON> = {}): StoredAccumulator {
  const entry = emptyEntry({ model: 'vad', version: '5.0.0', backend: 'wasm', cohort: null });
  const latency = new LatencyHistogram();
  for (let i = 0; i < attempts; i++) latency.record(2);
  return { start, end, entry: { ...entry, attempts, successes: attempts, latency: latency.toJSON(), ...patch } };
}

function state(...deltas: StoredAccumulator[]): TelemetryState {
  const s = emptyTelemetryState();
  mergeDeltas(s, deltas);
  return s;
}

describe('sealPeriods', () => {
  it('seals an ended period once: one schema-3 report, the budget charged, the counts deleted', () => {
    const day = 20_000;
    const s = state(delta(day * DAY, (day + 1) * DAY, 3), delta(day * DAY, (day + 1) * DAY, 4));
    expect(s.accumulators).toHaveLength(1);
    expect(s.accumulators[0]!.entry.attempts).toBe(7);
    const outcome = sealPeriods(s, request((day + 1) * DAY + 5));
    expect(outcome.sealed).toEqual([{ reportId: expect.any(String), start: day * DAY, epsilon: 3 }]);
    expect(s.accumulators).toEqual([]);
    expect(s.queue).toHaveLength(1);
    const report = parseReport(JSON.parse(s.queue[0]!.body));
    // A report names its period by the hour it started.
    expect(report).toMatchObject({ schema: 3, app: 'demo', period: day * 24, config: 'tc_test', epsilon: 3 });
    expect(s.queue[0]!.entries).toEqual([{ model: 'vad', version: '5.0.0', backend: 'wasm', cohort: null, inferences: 7, errors: 0 }]);
    expect(s.budget).toEqual({ day, spentMicros: 3_000_000, sealedUntil: (day + 1) * DAY });
    // Sealing again finds nothing; counts arriving late for that period are dropped, not sealed twice.
    expect(sealPeriods(s, request((day + 1) * DAY + 10)).sealed).toEqual([]);
    expect(mergeDeltas(s, [delta(day * DAY, (day + 1) * DAY, 1)])).toEqual({ dropped: 1, anchor: day * DAY });
    expect(s.accumulators).toEqual([]);
  });

  it('never seals the current period', () => {
    const s = state(delta(10 * DAY, 11 * DAY, 2));
    expect(sealPeriods(s, request(11 * DAY - 1)).sealed).toEqual([]);
    expect(s.accumulators).toHaveLength(1);
    expect(s.queue).toEqual([]);
  });

  it('grants nothing when the clock is moved back: periods at or before the last sealed one are dropped', () => {
    const s = state(delta(10 * DAY, 11 * DAY, 2));
    sealPeriods(s, request(11 * DAY + 1));
    const budget = { ...s.budget };
    // The clock goes back a day: the device records into period 10 again.
    mergeDeltas(s, [delta(10 * DAY, 11 * DAY, 5)]);
    expect(s.accumulators).toEqual([]);
    // …or, with the clock even further back, into period 9, which now "ends" before the last seal.
    mergeDeltas(s, [delta(9 * DAY, 10 * DAY, 5)]);
    expect(sealPeriods(s, request(10 * DAY + 1)).sealed).toEqual([]);
    expect(s.budget).toEqual(budget);
    expect(s.queue).toHaveLength(1);
  });

  it('drops periods older than max(2 periods, 48 h) unsealed', () => {
    const s = state(delta(10 * DAY, 11 * DAY, 2), delta(12 * DAY, 13 * DAY, 2));
    const outcome = sealPeriods(s, request(13 * DAY + 1));
    expect(outcome.dropped).toEqual([{ start: 10 * DAY, end: 11 * DAY, reason: 'too_old', entries: 1 }]);
    expect(outcome.sealed.map((r) => r.start)).toEqual([12 * DAY]);
  });

  it('keeps to the daily cap: a second period starting the same UTC day is dropped when the day is spent', () => {
    const short = defaultTelemetryConfig('tc_short', { periodMs: 3_600_000 });
    const hour = 3_600_000;
    const features = { profile: 'p', declared: [0], cells: [[1, 0]] };
    const s = state(delta(480_000 * hour, 480_001 * hour, 2, { features }), delta(480_001 * hour, 480_002 * hour, 2, { features }));
    const outcome = sealPeriods(s, request(480_002 * hour, { config: short }));
    expect(outcome.sealed.map((r) => r.epsilon)).toEqual([8]);
    expect(outcome.dropped).toEqual([{ start: 480_001 * hour, end: 480_002 * hour, reason: 'exhausted', entries: 1 }]);
  });

  it('drops counts kept under another period length than the config’s (recorded before its config arrived)', () => {
    const hourly = defaultTelemetryConfig('tc_hourly', { periodMs: 3_600_000 });
    const minute = 60_000;
    const hourStart = 480_000 * 3_600_000;
    const s = state(delta(hourStart, hourStart + 3_600_000, 3), delta(hourStart, hourStart + minute, 1));
    const outcome = sealPeriods(s, request(hourStart + 3_600_000 + 1, { config: hourly }));
    expect(outcome.dropped).toEqual([{ start: hourStart, end: hourStart + minute, reason: 'period_changed', entries: 1 }]);
    expect(outcome.sealed).toHaveLength(1);
    expect(s.queue[0]!.entries[0]!.inferences).toBe(3);
  });

  it('runs periods back to back from the first count, and files a late tab’s counts in the period that holds them', () => {
    const s = state(delta(1000, 1000 + DAY, 2));
    expect(s.period.start).toBe(1000);
    // Another tab counted from its own idea of the period (it started at 5000) two days later.
    expect(mergeDeltas(s, [delta(2 * DAY + 5000, 3 * DAY + 5000, 1)])).toEqual({ dropped: 0, anchor: 1000 });
    expect(s.accumulators.map((a) => a.start)).toEqual([1000, 2 * DAY + 1000]);
  });

  it('starts a new period when a model runs under a new release or rollout step, dropping the unfinished one', () => {
    const s = emptyTelemetryState();
    expect(assignModel(s, 'vad', '5.0.0|', 1000, DAY)).toEqual({ restarted: false, anchor: 1000 });
    mergeDeltas(s, [delta(1000, 1000 + DAY, 4), delta(1000 + DAY, 1000 + 2 * DAY, 5)]);
    // Same release and step: nothing changes.
    expect(assignModel(s, 'vad', '5.0.0|', 1000 + DAY + 10, DAY)).toEqual({ restarted: false, anchor: 1000 });
    // The rollout's next step: the ended first period stays for sealing, the unfinished second is dropped.
    const at = 1000 + DAY + 3_600_000;
    expect(assignModel(s, 'vad', '5.0.0|ro_1:control:1', at, DAY)).toEqual({ restarted: true, anchor: at });
    expect(s.accumulators.map((a) => [a.start, a.entry.attempts])).toEqual([[1000, 4]]);
    // A tab that still counts into the dropped period has those counts dropped too.
    expect(mergeDeltas(s, [delta(1000 + DAY, 1000 + 2 * DAY, 7)]).dropped).toBe(1);
    mergeDeltas(s, [delta(at, at + DAY, 2)]);
    expect(sealPeriods(s, request(at + DAY + 1)).sealed.map((r) => r.start)).toEqual([1000, at]);
  });

  it('bounds the queue, dropping the oldest report', () => {
    const s = emptyTelemetryState();
    for (let d = 0; d < 3; d++) {
      mergeDeltas(s, [delta((100 + d) * DAY, (101 + d) * DAY, 1)]);
      sealPeriods(s, request((101 + d) * DAY + 1, { maxQueuedReports: 2 }));
    }
    expect(s.queue.map((r) => r.start)).toEqual([101 * DAY, 102 * DAY]);
  });

  it('drops stored counts that fail their checks instead of failing every seal', () => {
    const s = state(delta(10 * DAY, 11 * DAY, 2));
    s.accumulators[0]!.entry.successes = 99; // more successes than attempts
    const outcome = sealPeriods(s, request(11 * DAY + 1));
    expect(outcome.dropped).toEqual([{ start: 10 * DAY, end: 11 * DAY, reason: 'corrupted', entries: 1 }]);
    expect(s.queue).toEqual([]);
  });
});
