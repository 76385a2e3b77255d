import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../latency/latency-histogram.js';
import { parseReport, REPORT_SCHEMA_VERSION } from './report.js';

function latency(n: number) {
  const h = new LatencyHistogram();
  for (let i = 0; i < n; i++) h.record(1 + i);
  return h.toJSON();
}

const base = {
  reportId: '0b6f0b8e-4f6a-4d3c-9a57-0d3f3c1b2a11',
  app: 'demo',
  sentAt: '2026-11-25T12:00:00.000Z',
};
const model = { model: 'vad', version: '5.0.0', backend: 'wasm', inferences: 3, errors: 0, latencyMs: latency(3) };

describe('parseReport', () => {
  it('accepts schema 1 reports unchanged', () => {
    const v1 = { schema: 1, ...base, models: [model] };
    expect(parseReport(v1)).toEqual(v1);
  });

  it('accepts schema 2 with and without summaries', () => {
    expect(REPORT_SCHEMA_VERSION).toBe(2);
    const summaries = {
      profile: 'vad@5',
      totals: [3, 3],
      cells: [[1, -2, 4, 0], [5, 0]],
      privacy: { mechanism: 'discrete_laplace', epsilon: 4, clip: 100 },
    };
    const v2 = { schema: 2, ...base, models: [{ ...model, summaries }, model] };
    expect(parseReport(v2)).toEqual(v2);
  });

  it('refuses summaries in schema 1 and inconsistent summaries in schema 2', () => {
    const summaries = { profile: 'p', totals: [2], cells: [[1, 1]], privacy: null };
    expect(parseReport({ schema: 1, ...base, models: [{ ...model, summaries }] }).models[0]).not.toHaveProperty('summaries');
    const bad = (s: unknown) => ({ schema: 2, ...base, models: [{ ...model, summaries: s }] });
    expect(() => parseReport(bad({ ...summaries, totals: [3] }))).toThrow(/models\.0\.summaries: .*add up to 2, not its total 3/);
    expect(() => parseReport(bad({ ...summaries, cells: [[3, -1]] }))).toThrow(/must be ≥ 0 when privacy is null/);
    expect(() => parseReport(bad({ ...summaries, totals: [2, 2] }))).toThrow(/1 cell lists but 2 totals/);
    expect(() =>
      parseReport(bad({ ...summaries, totals: [200], privacy: { mechanism: 'discrete_laplace', epsilon: 1, clip: 100 } })),
    ).toThrow(/exceeds the clip 100/);
    const noised = { mechanism: 'discrete_laplace', epsilon: 4, clip: 100 };
    // ε = 4 over 1 entry: ln(1/a) = 2, so noise beyond 41/2 = 20.5 outside [0, total = 2] is refused.
    expect(() => parseReport(bad({ ...summaries, cells: [[23, 1]], privacy: noised }))).toThrow(/noised count 23 is implausible/);
    expect(() => parseReport(bad({ ...summaries, cells: [[-21, 1]], privacy: noised }))).toThrow(/implausible/);
    expect(parseReport(bad({ ...summaries, cells: [[22, -20]], privacy: noised })).models).toHaveLength(1);
    expect(parseReport(bad({ ...summaries, cells: [[-3, 20]], privacy: noised })).models).toHaveLength(1);
    expect(() => parseReport(bad({ ...summaries, privacy: { ...noised, clip: 20_000 } }))).toThrow(/clip/);
    expect(() => parseReport(bad({ ...summaries, cells: [[1.5, 0.5]] }))).toThrow(/invalid telemetry report: models\.0\.summaries\.cells/);
    expect(() => parseReport({ schema: 3, ...base, models: [] })).toThrow(/invalid telemetry report: schema/);
  });

  it('still checks latency against inferences', () => {
    expect(() => parseReport({ schema: 2, ...base, models: [{ ...model, inferences: 4 }] })).toThrow(
      /holds 3 observations but inferences is 4/,
    );
  });
});

describe('schema 2 runtime fields', () => {
  const v2 = (extra: Record<string, unknown>, errors = 0) => ({ schema: 2, ...base, models: [{ ...model, errors, ...extra }] });

  it('accepts cohort, load and first-inference latency, error kinds and events', () => {
    const report = v2(
      {
        cohort: { rollout: 'ro_0123456789ab', arm: 'candidate' },
        loadMs: latency(1),
        firstInferenceMs: latency(1),
        errorKinds: { engine: 2, backend_lost: 1 },
        events: { 'backend-lost': 1 },
      },
      3,
    );
    expect(parseReport(report)).toEqual(report);
  });

  it('refuses error kinds that do not add up, bad cohorts and broken latency histograms', () => {
    expect(() => parseReport(v2({ errorKinds: { engine: 2 } }, 3))).toThrow(/models\.0\.errorKinds add up to 2 but errors is 3/);
    expect(() => parseReport(v2({ cohort: { rollout: 'r1', arm: 'treatment' } }))).toThrow(/models\.0\.cohort\.arm/);
    expect(() => parseReport(v2({ events: { 'Backend Lost': 1 } }))).toThrow(/models\.0\.events/);
    expect(() => parseReport(v2({ loadMs: { ...latency(1), bins: [[0, 1], [0, 1]] } }))).toThrow(/models\.0\.loadMs/);
  });
});
