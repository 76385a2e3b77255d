import { describe, expect, it } from 'vitest';
import { entryHealthEpsilon, maxReportEpsilon, reportEpsilon } from './accountant.js';
import { DEFAULT_LATENCY_RANGE, defaultTelemetryConfig, latencyRange, parseTelemetryConfig } from './telemetry-config.js';

describe('telemetry config and accountant', () => {
  it('defaults to ε = 8 per device per day: 3 on health, 5 on one feature value', () => {
    const config = defaultTelemetryConfig();
    expect(config.periodMs).toBe(86_400_000);
    expect(entryHealthEpsilon(config)).toBeCloseTo(3, 12);
    expect(config.drift.epsilon).toBe(5);
    expect(maxReportEpsilon(config)).toBe(8);
    // However many entries a report has, it spends at most the per-entry total.
    expect(reportEpsilon(config, [{ summary: true }, { summary: true }, { summary: false }])).toBeCloseTo((8 + 8 + 3) / 3, 9);
    expect(() => reportEpsilon(config, Array.from({ length: 5 }, () => ({ summary: true })))).toThrow(/at most 4 entries/);
  });

  it('counts app-defined counters in the per-entry ε', () => {
    const config = defaultTelemetryConfig('tc_2', { counters: { retries: { clip: 10, epsilon: 0.5 } } });
    expect(maxReportEpsilon(config)).toBe(8.5);
  });

  it('falls back to a wide latency range for a model or backend the config does not name', () => {
    const config = defaultTelemetryConfig('tc_3', { latency: { vad: { wasm: { latencyP50: { center: 10, halfRange: 16 }, latencyP95: { center: 10, halfRange: 16 } } } } });
    expect(latencyRange(config, 'vad', 'wasm', 'latencyP95')).toEqual({ center: 10, halfRange: 16 });
    expect(latencyRange(config, 'vad', 'webgpu', 'latencyP50')).toEqual(DEFAULT_LATENCY_RANGE);
  });

  it('refuses a config with unknown fields, bad ε or names, naming each', () => {
    const good = defaultTelemetryConfig();
    expect(() => parseTelemetryConfig({ ...good, health: { ...good.health, errored: { epsilon: 0 } } })).toThrow(/health\.errored\.epsilon/);
    expect(() => parseTelemetryConfig({ ...good, extra: 1 })).toThrow(/Unrecognized key/);
    expect(() => parseTelemetryConfig({ ...good, id: 'x' })).toThrow(/id: use "tc_"/);
    expect(() => parseTelemetryConfig({ ...good, counters: { 'Bad Name': { clip: 1, epsilon: 1 } } })).toThrow(/counters/);
    expect(() => parseTelemetryConfig({ ...good, periodMs: 10 })).toThrow(/periodMs/);
  });
});
