import { describe, expect, it } from 'vitest';
import { parseReport, REPORT_SCHEMA_VERSION } from './report.js';

const health = { errored: 0, errorKind: 0, latencyP50: 12, latencyP95: -40, reverted: 1, fellBack: 0, inferences: 57 };
const report = {
  schema: 3,
  reportId: '0b6f0b8e-4f6a-4d3c-9a57-0d3f3c1b2a11',
  app: 'demo',
  period: 20_425,
  config: 'tc_1',
  epsilon: 8,
  models: [
    { model: 'vad', version: '5.0.0', backend: 'wasm', health, summary: { profile: 'vad@5', feature: 2, cell: 7 } },
    { model: 'vad', version: '6.0.0', backend: 'wasm', cohort: { rollout: 'ro_0123456789ab', arm: 'candidate', step: 1 }, health, counters: { retries: -3 } },
  ],
};

describe('parseReport (schema 3)', () => {
  it('accepts a report of noised values, negative ones included', () => {
    expect(REPORT_SCHEMA_VERSION).toBe(3);
    expect(parseReport(report)).toEqual(report);
  });

  it('refuses the old exact-count schemas with a message that says to update the runtime', () => {
    expect(() => parseReport({ ...report, schema: 2 })).toThrow(/schema 2 is no longer accepted: it sent exact counts; update @edgeloop\/runtime/);
  });

  it('names every bad field: control characters, RR values, unknown fields, sentAt', () => {
    const bad = (patch: object, model: object = {}) => () => parseReport({ ...report, ...patch, models: [{ ...report.models[0], ...model }] });
    expect(bad({}, { backend: 'wasm\u0000' })).toThrow(/models\.0\.backend/);
    expect(bad({}, { version: '5\u0000' })).toThrow(/models\.0\.version/);
    expect(bad({}, { health: { ...health, errored: 2 } })).toThrow(/models\.0\.health\.errored/);
    expect(bad({}, { health: { ...health, latencyP95: 1.5 } })).toThrow(/models\.0\.health\.latencyP95/);
    expect(bad({ sentAt: '2026-01-01T00:00:00.000Z' })).toThrow(/Unrecognized key.*sentAt/);
    expect(bad({}, { cohort: { rollout: 'ro_1', arm: 'excluded', step: 0 } })).toThrow(/models\.0\.cohort\.arm/);
    expect(bad({}, { latencyMs: {} })).toThrow(/Unrecognized key/);
  });

  it('refuses two entries with the same key', () => {
    expect(() => parseReport({ ...report, models: [report.models[0], report.models[0]] })).toThrow(/models\.1 repeats an earlier entry/);
  });
});
