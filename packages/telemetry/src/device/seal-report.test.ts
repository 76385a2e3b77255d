import { describe, expect, it } from 'vitest';
import { defaultTelemetryConfig, ERROR_KINDS } from '../config/telemetry-config.js';
import { LatencyHistogram } from '../latency/latency-histogram.js';
import { rrKeepProbability } from '../privacy/mechanisms.js';
import { seededRng } from '../random/rng.js';
import { emptyEntry, type EntryAccumulatorJSON } from '../record/entry-accumulator.js';
import { admitReport } from '../report/admit-report.js';
import { parseReport } from '../report/report.js';
import { dominantErrorKind, healthTruth, latencyUnits, sealReport } from './seal-report.js';

const config = defaultTelemetryConfig('tc_1', { latency: { vad: { wasm: { center: 0, halfRange: 16 } } } });

function entry(patch: Partial<EntryAccumulatorJSON> = {}, latencies: number[] = [1, 1, 2, 4]): EntryAccumulatorJSON {
  const e = emptyEntry({ model: 'vad', version: '5.0.0', backend: 'wasm', cohort: null });
  const h = new LatencyHistogram();
  for (const ms of latencies) h.record(ms);
  return { ...e, attempts: latencies.length, successes: latencies.length, latency: h.toJSON(), ...patch };
}

describe('sealReport', () => {
  it('builds a schema-3 report the server admits, spending exactly the config ε', () => {
    const features = { profile: 'p1', declared: [0, 1], cells: [[0, 3, 1], [2, 2, 0, 0]] };
    const sealed = sealReport({ app: 'demo', period: 7, config, entries: [entry({ features })], reportId: '0b6f0b8e-4f6a-4d3c-9a57-0d3f3c1b2a11', rng: seededRng(1) })!;
    const report = parseReport(sealed.report);
    expect(report.epsilon).toBe(8);
    expect(report.models[0]!.summary).toMatchObject({ profile: 'p1' });
    expect(Object.keys(report.models[0]!.health).sort()).toEqual(['errorKind', 'errored', 'fellBack', 'inferences', 'latencyP50', 'latencyP95', 'reverted']);
    const admitted = admitReport(report, {
      config,
      now: 8 * config.periodMs + 1000,
      isPublished: () => true,
      profileOf: () => ({ id: 'p1', cellCounts: [3, 4] }),
      rolloutOf: () => null,
    });
    expect(admitted.ignoredSummaries).toBe(0);
  });

  it('splits ε over entries, keeps the busiest maxEntries, and marks a revert on every entry of the model', () => {
    const entries = [0, 1, 2, 3, 4].map((i) => entry({ backend: `b${i}`, attempts: 10 + i, reverted: i === 4 }));
    const sealed = sealReport({ app: 'demo', period: 7, config, entries, reportId: 'x', rng: seededRng(2) })!;
    expect(sealed.droppedEntries).toBe(1);
    expect(sealed.report.models.map((m) => m.backend)).toEqual(['b4', 'b3', 'b2', 'b1']);
    // No summaries: health only, 3 per entry, whatever the number of entries.
    expect(sealed.report.epsilon).toBe(3);
    // With ε_f / 4 per field the reverted bit is kept with e^(0.075)/(1+e^(0.075)) — check the flag reached all
    // four entries by sealing many times and counting ones.
    let ones = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const r = sealReport({ app: 'demo', period: 7, config, entries, reportId: 'x', rng: seededRng(100 + t) })!;
      ones += r.report.models.reduce((a, m) => a + m.health.reverted, 0);
    }
    const p = rrKeepProbability(config.health.reverted.epsilon / 4);
    expect(Math.abs(ones / (4 * trials) - p)).toBeLessThan(0.015);
  });

  it('never sends the exact values: a period sealed twice gives different numbers, centred on the truth', () => {
    const e = entry({ successes: 40, attempts: 42, errors: { engine: 2 } }, Array.from({ length: 40 }, (_, i) => 1 + i / 10));
    const truth = healthTruth(e, config);
    expect(truth).toMatchObject({ errored: 1, errorKind: ERROR_KINDS.indexOf('engine'), inferences: 40 });
    let sum = 0;
    const distinct = new Set<number>();
    const trials = 3000;
    for (let t = 0; t < trials; t++) {
      const r = sealReport({ app: 'demo', period: 7, config, entries: [e], reportId: 'x', rng: seededRng(t) })!;
      sum += r.report.models[0]!.health.latencyP95;
      distinct.add(r.report.models[0]!.health.latencyP95);
    }
    expect(distinct.size).toBeGreaterThan(100);
    // Noise sd ≈ 45 units per report: the mean of 3000 is within ±3.
    expect(Math.abs(sum / trials - truth.latencyP95)).toBeLessThan(3);
  });

  it('reports one value of a declared feature, chosen in proportion to the counts', () => {
    const features = { profile: 'p1', declared: [1], cells: [[50, 0, 0], [0, 30, 10, 0]] };
    const loud = { ...config, drift: { epsilon: 60 } };
    const seen = [0, 0, 0, 0];
    for (let t = 0; t < 4000; t++) {
      const r = sealReport({ app: 'demo', period: 7, config: loud, entries: [entry({ features })], reportId: 'x', rng: seededRng(t) })!;
      const s = r.report.models[0]!.summary!;
      expect(s.feature).toBe(1); // the undeclared feature 0 is never reported
      seen[s.cell]! += 1;
    }
    expect(seen[1]! / 4000).toBeGreaterThan(0.72);
    expect(seen[1]! / 4000).toBeLessThan(0.78);
    expect(seen[0]! + seen[3]!).toBe(0);
  });

  it('returns null for an empty period, and maps latency and error kinds as documented', () => {
    expect(sealReport({ app: 'demo', period: 7, config, entries: [entry({ attempts: 0, successes: 0 })], reportId: 'x', rng: seededRng(1) })).toBeNull();
    expect(latencyUnits(1, { center: 0, halfRange: 16 })).toBe(16);
    expect(latencyUnits(2, { center: 0, halfRange: 16 })).toBe(24);
    expect(latencyUnits(1e9, { center: 0, halfRange: 16 })).toBe(32);
    expect(latencyUnits(null, { center: 0, halfRange: 16 })).toBe(16);
    expect(dominantErrorKind({})).toBe(0);
    expect(dominantErrorKind({ worker: 1, engine: 1 })).toBe(ERROR_KINDS.indexOf('engine'));
    expect(dominantErrorKind({ storage: 5, engine: 1 })).toBe(ERROR_KINDS.indexOf('other'));
  });
});
