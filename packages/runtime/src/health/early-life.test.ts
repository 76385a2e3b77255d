import { DEFAULT_HEALTH_POLICY, resolveHealthPolicy } from '@edgeloop/protocol';
import { LatencyHistogram } from '@edgeloop/telemetry';
import { describe, expect, it } from 'vitest';
import { evaluateTrial, MIN_BASELINE_INFERENCES } from './early-life.js';
import type { BackendStats } from './measurements.js';

const stats = (attempts: number, errors: number, latencyMs: number): BackendStats => {
  const latency = new LatencyHistogram();
  for (let i = 0; i < attempts - errors; i++) latency.record(latencyMs);
  return { attempts, errors, latency };
};

describe('early-life checks', () => {
  it('waits for N inferences, then commits within the defaults', () => {
    expect(evaluateTrial(stats(49, 0, 10), stats(100, 0, 10), DEFAULT_HEALTH_POLICY)).toEqual({ decision: 'wait' });
    expect(evaluateTrial(stats(50, 0, 10), stats(100, 0, 10), DEFAULT_HEALTH_POLICY)).toEqual({ decision: 'commit' });
  });

  it('allows the previous error rate + 2 points, not more, and judges errors once N calls were attempted', () => {
    const previous = stats(100, 5, 10); // 5 %
    expect(evaluateTrial(stats(100, 7, 10), previous, resolveHealthPolicy({ inferences: 50 }))).toEqual({ decision: 'commit' }); // 7 % = 5 % + 2 points
    expect(evaluateTrial(stats(100, 8, 10), previous, resolveHealthPolicy({ inferences: 50 }))).toMatchObject({ decision: 'revert', reason: 'error_rate' });
    // Every call failing: reverted once N were attempted, though none succeeded.
    expect(evaluateTrial(stats(50, 50, 10), previous, DEFAULT_HEALTH_POLICY)).toMatchObject({ decision: 'revert', reason: 'error_rate' });
    // Errors within the limit but not yet N successes: wait.
    expect(evaluateTrial(stats(50, 1, 10), stats(100, 2, 10), DEFAULT_HEALTH_POLICY)).toEqual({ decision: 'wait' });
  });

  it('compares p95 latency with the ratio plus a millisecond of slack, only against enough figures', () => {
    const previous = stats(100, 0, 10);
    expect(evaluateTrial(stats(50, 0, 15.9), previous, DEFAULT_HEALTH_POLICY)).toEqual({ decision: 'commit' });
    expect(evaluateTrial(stats(50, 0, 16.5), previous, DEFAULT_HEALTH_POLICY)).toMatchObject({ decision: 'revert', reason: 'latency' });
    expect(evaluateTrial(stats(50, 0, 1.4), stats(100, 0, 0.5), DEFAULT_HEALTH_POLICY)).toEqual({ decision: 'commit' }); // 0.75 ms + 1 ms slack
    // Too few figures for the previous release: no latency check, and its error rate is not used.
    const thin = stats(MIN_BASELINE_INFERENCES - 1, 0, 1);
    expect(evaluateTrial(stats(50, 0, 100), thin, DEFAULT_HEALTH_POLICY)).toEqual({ decision: 'commit' });
    expect(evaluateTrial(stats(50, 0, 100), null, DEFAULT_HEALTH_POLICY)).toEqual({ decision: 'commit' });
    expect(evaluateTrial(stats(100, 3, 100), null, resolveHealthPolicy({ inferences: 50 }))).toMatchObject({ decision: 'revert', reason: 'error_rate', detail: 'error rate 3.0% over 100 inferences; the limit is 0.0% + 2.0%' });
  });
});
