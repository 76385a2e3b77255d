import { describe, expect, it } from 'vitest';
import { defaultTelemetryConfig } from '../config/telemetry-config.js';
import { seededRng } from '../random/rng.js';
import type { ReportCohort } from '../record/entry-accumulator.js';
import { simulateArm } from '../testing/arms.js';
import { decide, floorHoldback, type GateInput } from './decide.js';
import { parseGatePolicy } from './gate-policy.js';

const config = defaultTelemetryConfig('tc_1', { latency: { m: { wasm: { latencyP50: { center: 27, halfRange: 8 }, latencyP95: { center: 27, halfRange: 8 } }, webgpu: { latencyP50: { center: 19, halfRange: 8 }, latencyP95: { center: 19, halfRange: 8 } } } } });
const policy = parseGatePolicy({});
const HOUR = 3_600_000;
const backends = { wasm: 0.7, webgpu: 0.3 };
const candidateCohort = { rollout: 'ro_1', arm: 'candidate' as const, step: 2 };
const controlCohort = { rollout: 'ro_1', arm: 'control' as const, step: 2 };

function input(candidate: Parameters<typeof simulateArm>[0], control: Parameters<typeof simulateArm>[0], patch: Partial<GateInput> = {}): GateInput {
  const c = simulateArm(candidate);
  const k = simulateArm(control);
  const count = (arm: Map<string, { reports: number }>) => [...arm.values()].reduce((a, cell) => a + cell.reports, 0);
  return {
    policy,
    candidate: c,
    control: k,
    stepReports: { candidate: count(c), control: count(k) },
    step: { index: 2, percentage: 25, startedAt: 0, closedWindows: 3 },
    now: 30 * HOUR,
    profile: null,
    ...patch,
  };
}

const arm = (devices: number, seed: number, cohort: ReportCohort = controlCohort, extra: object = {}) => ({ devices, config, rng: seededRng(seed), cohort, backends, ...extra });

describe('decide (rollout gate)', () => {
  it('waits below the floor without saying how many reports there are', () => {
    const decision = decide(input(arm(12, 1, candidateCohort), arm(3000, 2)));
    expect(decision).toMatchObject({ outcome: 'hold', rule: 'insufficient_reports', reason: 'waiting: fewer than 20 reports in the candidate arm' });
    expect(decision.reports).toEqual({ control: 3000 });
    expect(JSON.stringify(decision)).not.toMatch(/"candidate":\s*\{?\s*"?reports"?:?\s*12/);
  });

  it('promotes an A/A step once every comparison is within its margin and the hold time is over', () => {
    // A 5 % step of a 160,000-device fleet: 8,000 candidates; 24,000 control reports stand for the rest.
    const fivePercent = { step: { index: 1, percentage: 5, startedAt: 0, closedWindows: 3 }, stepReports: { candidate: 8000, control: 152_000 } };
    const decision = decide(input(arm(8000, 3, candidateCohort), arm(24_000, 4), fivePercent));
    expect(decision.comparisons.map((c) => c.verdict)).not.toContain('regression');
    expect(decision).toMatchObject({ outcome: 'promote', rule: 'non_inferior' });
    const held = decide(input(arm(8000, 3, candidateCohort), arm(24_000, 4), { ...fivePercent, step: { ...fivePercent.step, closedWindows: 0 } }));
    expect(held).toMatchObject({ outcome: 'hold', rule: 'min_hold' });
  });

  it('rolls back doubled errors, and says why in words with the interval', () => {
    const decision = decide(input(arm(8000, 5, candidateCohort, { errorRate: { wasm: 0.02, webgpu: 0.02 } }), arm(24_000, 6)));
    expect(decision).toMatchObject({ outcome: 'rollback', rule: 'regression' });
    expect(decision.reason).toMatch(/^rolled back: errors \d+\.\d % vs \d+\.\d % \(\+\d+\.\d points, interval \[\+\d+\.\d points, \+\d+\.\d points\]\), more than the tolerated \+\d\.\d points$/);
  });

  it('rolls back a latency regression on WebGPU devices only, naming the backend', () => {
    const decision = decide(input(arm(8000, 7, candidateCohort, { medianMs: { wasm: 10, webgpu: 6 } }), arm(24_000, 8, controlCohort, { medianMs: { wasm: 10, webgpu: 4 } })));
    expect(decision.outcome).toBe('rollback');
    expect(decision.reason).toMatch(/latencyP\d\d on webgpu .* ms vs .* ms \(×1\.[45]\d/);
    expect(decision.comparisons.find((c) => c.metric === 'latencyP95' && c.backend === 'wasm')!.verdict).not.toBe('regression');
  });

  it('pauses on a sample-ratio mismatch and when a step stays inconclusive past its maximum', () => {
    const srm = decide(input(arm(5000, 9, candidateCohort), arm(24_000, 10)));
    expect(srm).toMatchObject({ outcome: 'pause', rule: 'sample_ratio' });
    expect(srm.reason).toMatch(/the candidate sent 17\.2 % of the step's reports, expected 25\.0 %/);
    const small = { index: 0, percentage: 1, startedAt: 0, closedWindows: 40 };
    const tiny = input(arm(60, 11, candidateCohort), arm(6000, 12), { step: small, stepReports: { candidate: 60, control: 6000 } });
    expect(decide({ ...tiny, now: 10 * HOUR })).toMatchObject({ outcome: 'hold', rule: 'inconclusive' });
    expect(decide({ ...tiny, now: 49 * HOUR })).toMatchObject({ outcome: 'pause', rule: 'max_duration' });
  });

  it('does not take reports the floor still holds back for a sample-ratio mismatch, and still pauses on a gap no holdback explains', () => {
    // A 1 % step, a few hours into its reports: the candidate's two cells have released 20 reports,
    // up to 2 × 2 × 19 more may wait below the floor; the control (hourly releases) sent 6,000.
    const early = { index: 0, percentage: 1, startedAt: 0, closedWindows: 4 };
    const released = input(arm(20, 13, candidateCohort), arm(6000, 14), { step: early, stepReports: { candidate: 20, control: 6000 } });
    expect(decide(released)).toMatchObject({ outcome: 'pause', rule: 'sample_ratio' }); // blind to the floor: a false alarm
    const holdback = floorHoldback(20, released);
    expect(holdback).toEqual({ candidate: 76, control: 38 });
    const fair = decide({ ...released, stepReports: { candidate: 20, control: 6000, withheld: holdback } });
    expect(fair.rule).not.toBe('sample_ratio');
    expect(fair.sampleRatio).toMatchObject({ mismatch: false, observedShare: 20 / 6020 });
    // 20 reports of 60,000: even with everything held back the share stays far below 1 %.
    const missing = decide({ ...released, stepReports: { candidate: 20, control: 60_000, withheld: holdback } });
    expect(missing).toMatchObject({ outcome: 'pause', rule: 'sample_ratio' });
  });
});

describe('parseGatePolicy', () => {
  it('fills the documented defaults', () => {
    expect(policy).toMatchObject({ alpha: 0.05, minReportsPerArm: 20, minHoldWindows: 1, maxStepHours: 48, sampleRatioAlpha: 0.001, marginReferencePercent: 100 });
    expect(policy.metrics.map((m) => `${m.metric}/${m.per}`)).toEqual(['errors/all', 'latencyP95/backend', 'reverts/all', 'fallbacks/all']);
  });

  it('refuses an unknown metric, a negative tolerance and a minimum below the floor, saying the fix', () => {
    expect(() => parseGatePolicy({ metrics: [{ metric: 'speed', tolerance: { relative: 0.1 } }] })).toThrow(/gate\.metrics\.0\.metric: use errors, latencyP50/);
    expect(() => parseGatePolicy({ metrics: [{ metric: 'errors', tolerance: { relative: -0.1 } }] })).toThrow(/a tolerance cannot be negative/);
    expect(() => parseGatePolicy({ metrics: [{ metric: 'errors', tolerance: {} }] })).toThrow(/give a relative or an absolute tolerance above 0/);
    expect(() => parseGatePolicy({ minReportsPerArm: 5 })).toThrow(/gate\.minReportsPerArm: 5 is below the telemetry floor of 20 reports; use 20 or more/);
    expect(() => parseGatePolicy({ metrics: [{ metric: 'errors', tolerance: { absolute: 0.1 } }, { metric: 'errors', tolerance: { absolute: 0.2 } }] })).toThrow(/lists errors per all twice/);
  });
});
