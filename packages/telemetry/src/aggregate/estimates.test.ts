import { describe, expect, it } from 'vitest';
import { defaultTelemetryConfig, ERROR_KINDS } from '../config/telemetry-config.js';
import { sealReport } from '../device/seal-report.js';
import { LatencyHistogram } from '../latency/latency-histogram.js';
import { seededRng } from '../random/rng.js';
import { emptyEntry } from '../record/entry-accumulator.js';
import { estimateCell, unitsToMs } from './estimates.js';
import { ReleaseCell } from './release-cell.js';

describe('estimateCell', () => {
  it('recovers the fleet’s true shares and geometric-mean latency from noised reports', () => {
    const config = defaultTelemetryConfig('tc_1', { latency: { m: { wasm: { latencyP50: { center: 24, halfRange: 16 }, latencyP95: { center: 24, halfRange: 16 } } } } });
    const rng = seededRng(11);
    const cell = new ReleaseCell();
    const devices = 20_000;
    let errored = 0;
    let logSum = 0;
    for (let d = 0; d < devices; d++) {
      const entry = emptyEntry({ model: 'm', version: '1', backend: 'wasm', cohort: null });
      const slow = rng.next() < 0.5 ? 1 : 2; // half the devices twice as slow
      const h = new LatencyHistogram();
      for (let i = 0; i < 20; i++) h.record(8 * slow * (1 + 0.01 * i));
      entry.latency = h.toJSON();
      entry.attempts = 21;
      entry.successes = 20;
      if (rng.next() < 0.3) {
        entry.errors = { engine: 1 };
        errored += 1;
      }
      logSum += Math.log2(h.quantile(0.95)!);
      const sealed = sealReport({ app: 'a', period: 1, config, entries: [entry], reportId: 'r', rng })!;
      cell.add(sealed.report.models[0]!, config, 1);
    }
    const estimates = estimateCell(cell);
    const share = estimates.rr.errored;
    expect(Math.abs(share.mean - errored / devices)).toBeLessThan(4 * share.se);
    // se of a share through ε = 1.55 randomized response: √(p(1−p)/(2p−1)² + π(1−π))/√n ≈ 0.0052 at 20,000 reports.
    expect(share.se).toBeGreaterThan(0.004);
    expect(share.se).toBeLessThan(0.0065);
    const p95 = estimates.laplace.latencyP95;
    const trueMs = 2 ** (logSum / devices);
    expect(Math.abs(p95.mean - 8 * Math.log2(trueMs))).toBeLessThan(4 * p95.se + 0.5);
    expect(unitsToMs(p95.mean) / trueMs).toBeGreaterThan(0.9);
    expect(unitsToMs(p95.mean) / trueMs).toBeLessThan(1.1);
    expect(estimates.errorKinds.engine).toBeGreaterThan(0.2);
    expect(Object.keys(estimates.errorKinds)).toEqual([...ERROR_KINDS]);
  });
});
