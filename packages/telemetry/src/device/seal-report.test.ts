import { describe, expect, it } from 'vitest';
import { defaultTelemetryConfig, ERROR_KINDS } from '../config/telemetry-config.js';
import { LatencyHistogram } from '../latency/latency-histogram.js';
import { rrKeepProbability } from '../privacy/mechanisms.js';
import { seededRng } from '../random/rng.js';
import { emptyEntry, type EntryAccumulatorJSON } from '../record/entry-accumulator.js';
import { admitReport } from '../report/admit-report.js';
import { parseReport } from '../report/report.js';
import { dominantErrorKind, healthTruth, latencyUnits, sealReport } from './seal-report.js';

const config = defaultTelemetryConfig('tc_1', { latency: { vad: { wasm: { latencyP50: { center: 0, halfRange: 16 }, latencyP95: { center: 0, halfRange: 16 } } } } });

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
      now: 7 * 3_600_000 + config.periodMs + 1000, // period 7 is the hour the period started
      isPublished: () => true,
      profileOf: () => ({ id: 'p1', cellCounts: [3, 4] }),
      rolloutOf: () => null,
    });
    expect(admitted.ignoredSummaries).toBe(0);
  });

  it('keeps one entry per model — the latest — with the model’s revert and fallback flags', () => {
    const a = entry({ version: '5.0.0', lastUsed: 1000, attempts: 40, fellBack: true });
    const b = entry({ version: '6.0.0', lastUsed: 2000, attempts: 5, cohort: { rollout: 'ro_1', arm: 'candidate', step: 0 } });
    const sealed = sealReport({ app: 'demo', period: 7, config: { ...config, health: { ...config.health, fellBack: { epsilon: 60 } } }, entries: [a, b], reportId: 'x', rng: seededRng(3) })!;
    expect(sealed.droppedEntries).toBe(1);
    expect(sealed.report.models).toHaveLength(1);
    expect(sealed.report.models[0]).toMatchObject({ version: '6.0.0', cohort: { arm: 'candidate' } });
    expect(sealed.report.models[0]!.health.fellBack).toBe(1); // ε = 60: the true flag, from the superseded entry
    // A whole day's ε for the one entry (3 with the fallback field's ε replaced by 60): no halving because the release changed.
    expect(sealed.report.epsilon).toBeCloseTo(3 - config.health.fellBack.epsilon + 60, 9);
  });

  it('splits ε over models, keeps the busiest maxEntries models, and marks a revert', () => {
    const entries = [0, 1, 2, 3, 4].map((i) => entry({ model: `m${i}`, attempts: 10 + i, reverted: i === 4 }));
    const sealed = sealReport({ app: 'demo', period: 7, config, entries, reportId: 'x', rng: seededRng(2) })!;
    expect(sealed.droppedEntries).toBe(1);
    expect(sealed.report.models.map((m) => m.model)).toEqual(['m4', 'm3', 'm2', 'm1']);
    // No summaries: health only, 3 per entry, whatever the number of entries.
    expect(sealed.report.epsilon).toBe(3);
    // With ε_f / 4 per field the reverted bit of m4 is kept with e^(ε/4)/(1+e^(ε/4)).
    let ones = 0;
    const trials = 4000;
    for (let t = 0; t < trials; t++) {
      const r = sealReport({ app: 'demo', period: 7, config, entries, reportId: 'x', rng: seededRng(100 + t) })!;
      ones += r.report.models[0]!.health.reverted;
    }
    const p = rrKeepProbability(config.health.reverted.epsilon / 4);
    expect(Math.abs(ones / trials - p)).toBeLessThan(0.025);
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
