import { describe, expect, it } from 'vitest';
import { defaultTelemetryConfig } from '../config/telemetry-config.js';
import { clippedLaplaceSlack } from '../privacy/mechanisms.js';
import { admitReport, type AdmissionContext } from './admit-report.js';
import type { TelemetryReport } from './report.js';

const config = defaultTelemetryConfig('tc_1', { counters: { retries: { clip: 5, epsilon: 0.5 } } });
const now = 20_000 * 86_400_000 + 3_600_000;
const health: TelemetryReport['models'][number]['health'] = { errored: 1, errorKind: 0, latencyP50: -300, latencyP95: 1000, reverted: 0, fellBack: 1, inferences: -150 };
const report: TelemetryReport = {
  schema: 3,
  reportId: '0b6f0b8e-4f6a-4d3c-9a57-0d3f3c1b2a11',
  app: 'demo',
  period: 19_999 * 24,
  config: 'tc_1',
  epsilon: 8.5,
  models: [{ model: 'vad', version: '6.0.0', backend: 'wasm', cohort: { rollout: 'ro_1', arm: 'candidate', step: 2 }, health, counters: { retries: -20 }, summary: { profile: 'p6', feature: 1, cell: 3 } }],
};
const context: AdmissionContext = {
  config,
  now,
  isPublished: (model, version) => model === 'vad' && (version === '5.0.0' || version === '6.0.0'),
  profileOf: () => ({ id: 'p6', cellCounts: [11, 4] }),
  rolloutOf: (id) => (id === 'ro_1' ? { model: 'vad', steps: 5 } : null),
};
const withEntry = (patch: object, top: object = {}): TelemetryReport => ({ ...report, ...top, models: [{ ...report.models[0]!, ...patch }] });

describe('admitReport', () => {
  it('admits validly noised values, negative and beyond the clip included', () => {
    expect(admitReport(report, context)).toEqual({ ignoredSummaries: 0 });
  });

  it('refuses privacy parameters that are not the signed config’s', () => {
    expect(() => admitReport({ ...report, epsilon: 80 }, context)).toThrow(/epsilon: config tc_1 gives this report ε = 8.5, but it declares 80/);
    expect(() => admitReport(report, { ...context, config: undefined })).toThrow(/config: "tc_1" is not a telemetry config this server issued/);
  });

  it('refuses a value no noise could produce, and keeps every bound derived from the config', () => {
    const slack = clippedLaplaceSlack(100, config.health.inferences.epsilon);
    expect(() => admitReport(withEntry({ health: { ...health, inferences: 100 + slack + 1 } }), context)).toThrow(new RegExp(`models\\.0\\.health\\.inferences: .* beyond what ε = ${config.health.inferences.epsilon} noise`));
    expect(() => admitReport(withEntry({ health: { ...health, inferences: -slack } }), context)).not.toThrow();
    expect(() => admitReport(withEntry({ health: { ...health, latencyP95: 2 ** 53 - 1 } }), context)).toThrow(/latencyP95/);
    expect(() => admitReport(withEntry({ counters: { retries: 1e6 } }), context)).toThrow(/counters\.retries/);
    expect(() => admitReport(withEntry({ counters: {} }), context)).toThrow(/exactly the config's counters \[retries\]/);
    expect(() => admitReport(withEntry({ health: { ...health, errorKind: 6 } }), context)).toThrow(/errorKind/);
  });

  it('counts nowhere a report naming an unpublished version or a rollout that does not exist', () => {
    expect(() => admitReport(withEntry({ version: '9.9.9' }), context)).toThrow(/vad@9\.9\.9 is not a published version/);
    expect(() => admitReport(withEntry({ cohort: { rollout: 'ro_gone', arm: 'control', step: 0 } }), context)).toThrow(/"ro_gone" is not a rollout of vad/);
    expect(() => admitReport(withEntry({ cohort: { rollout: 'ro_1', arm: 'control', step: 5 } }), context)).toThrow(/has 5 steps, got step 5/);
  });

  it('ignores a summary cut on an older profile, refuses one that does not fit the current one', () => {
    expect(admitReport(withEntry({ summary: { profile: 'p5', feature: 1, cell: 3 } }), context)).toEqual({ ignoredSummaries: 1 });
    expect(() => admitReport(withEntry({ summary: { profile: 'p6', feature: 2, cell: 0 } }), context)).toThrow(/profile p6 has 2 features/);
    expect(() => admitReport(withEntry({ summary: { profile: 'p6', feature: 1, cell: 4 } }), context)).toThrow(/feature 1 of profile p6 has 4 cells/);
  });

  it('refuses periods that are too old or in the future (a skewed clock cannot place reports elsewhere)', () => {
    expect(() => admitReport({ ...report, period: 19_996 * 24 }, context)).toThrow(/too old: reports more than 48 h after their period are refused/);
    expect(() => admitReport({ ...report, period: 20_000 * 24 }, context)).toThrow(/has not ended yet by the server's clock/);
    expect(() => admitReport({ ...report, models: [report.models[0]!, report.models[0]!, report.models[0]!, report.models[0]!, report.models[0]!] }, context)).toThrow(/at most 4 entries/);
  });
});
