import { describe, expect, it } from 'vitest';
import { SummaryAggregate } from '../aggregate/summary-aggregate.js';
import { privatizeSummaries } from '../privacy/privatize.js';
import { ReferenceProfile } from '../profile/reference-profile.js';
import { seededRng, type Rng } from '../random/rng.js';
import { FeatureRecorder } from '../record/feature-recorder.js';
import { gaussian } from '../stats/test-helpers.js';
import { analyzeDrift } from './analyze-drift.js';

const FEATURES = 6;
const rng = seededRng(99);
const reference = ReferenceProfile.fromSamples({
  id: 'vad@5',
  numeric: Array.from({ length: FEATURES }, (_, f) => ({
    name: `f${f}`,
    values: Float64Array.from({ length: 20_000 }, () => gaussian(rng)),
  })),
  categorical: [
    {
      name: 'label',
      role: 'output',
      values: Array.from({ length: 20_000 }, () => (rng.next() < 0.7 ? 'speech' : 'silence')),
    },
  ],
});

interface Fleet {
  devices: number;
  perDevice: number;
  shift?: number[];
  nanShare?: number;
  speechShare?: number;
  privacy?: false | { epsilon: number; clip: number };
}

function simulate(fleet: Fleet, random: Rng): SummaryAggregate {
  const aggregate = SummaryAggregate.empty(reference);
  const recorder = new FeatureRecorder(reference);
  const label = recorder.categoryIndex('label');
  const row = new Float64Array(FEATURES);
  for (let d = 0; d < fleet.devices; d++) {
    for (let i = 0; i < fleet.perDevice; i++) {
      for (let f = 0; f < FEATURES; f++) row[f] = gaussian(random) + (fleet.shift?.[f] ?? 0);
      if (fleet.nanShare !== undefined && random.next() < fleet.nanShare) row[1] = Number.NaN;
      recorder.record(row);
      recorder.recordCategory(label, random.next() < (fleet.speechShare ?? 0.7) ? 'speech' : 'silence');
    }
    aggregate.add(privatizeSummaries(recorder.drain(), { privacy: fleet.privacy ?? { epsilon: 4, clip: 100 }, rng: random }));
  }
  return aggregate;
}

describe('analyzeDrift', () => {
  it('shows nothing below the minimum number of reports', () => {
    const drift = analyzeDrift(reference, simulate({ devices: 19, perDevice: 50 }, seededRng(1)));
    expect(drift).toMatchObject({ verdict: 'insufficient_data', reports: 19, minReports: 20, features: [] });
  });

  it('finds no drift without a shift, with default privacy noise on', () => {
    const drift = analyzeDrift(reference, simulate({ devices: 300, perDevice: 50 }, seededRng(2)));
    expect(drift.verdict).toBe('no_drift');
    expect(drift.features).toHaveLength(FEATURES + 1);
    expect(drift.features[0]!.noiseVariancePerCell).toBeGreaterThan(0);
    for (const f of drift.features) expect(f.reason).toMatch(/not significant|below the floor/);
  });

  it('flags exactly the shifted feature through the noise, with the numbers behind it', () => {
    const drift = analyzeDrift(reference, simulate({ devices: 500, perDevice: 50, shift: [0, 0, 0.3] }, seededRng(3)));
    expect(drift.verdict).toBe('drift');
    expect(drift.features.filter((f) => f.verdict === 'drift').map((f) => f.name)).toEqual(['f2']);
    const f2 = drift.features[2]!;
    expect(f2.qValue).toBeLessThanOrEqual(0.01);
    expect(f2.effect.wasserstein!).toBeGreaterThan(0.05);
    expect(f2.effect.wasserstein!).toBeLessThan(0.12); // 0.3σ ≈ 0.085 on the probability scale
    expect(f2.psi.exceeded).toBe(true);
    expect(f2.reason).toMatch(/q = .* ≤ 0.01 and W₁ = .* reaches its floor/);
  });

  it('flags a NaN spike and an output shift (raw counts)', () => {
    const drift = analyzeDrift(
      reference,
      simulate({ devices: 40, perDevice: 50, nanShare: 0.05, speechShare: 0.5, privacy: false }, seededRng(4)),
    );
    const byName = Object.fromEntries(drift.features.map((f) => [f.name, f]));
    expect(byName.f1!.verdict).toBe('drift');
    expect(byName.f1!.nanRate!.observed).toBeGreaterThan(0.03);
    expect(byName.label!.verdict).toBe('drift');
    expect(byName.label!.role).toBe('output');
    expect(byName.f0!.verdict).toBe('no_drift');
  });

  it('calls a tiny shift at huge n significant but below the effect-size floor', () => {
    // A reference of 20 M values, so that the reference itself is not what limits the test.
    const json = reference.toJSON();
    const big = ReferenceProfile.fromJSON({
      ...json,
      numeric: json.numeric.map((f) => ({ ...f, cells: f.cells.map((c) => c * 1000) })),
      categorical: json.categorical.map((f) => ({ ...f, cells: f.cells.map((c) => c * 1000) })),
    });
    const aggregate = SummaryAggregate.empty(big);
    const perReport = 200_000;
    for (let r = 0; r < 25; r++) {
      const cells = reference.numeric.map((f) => {
        // Tilt the reference proportions by ±0.3 % — a real but negligible difference.
        const total = f.cells.reduce((a, b) => a + b, 0);
        const tilted = f.cells.map((c, i) => Math.round((perReport * c * (1 + 0.003 * (i - 4.5))) / total));
        return [...tilted, 0];
      });
      const label = [Math.round(perReport * 0.7), Math.round(perReport * 0.3), 0];
      const all = [...cells, label];
      aggregate.add({ profile: 'vad@5', totals: all.map((c) => c.reduce((a, b) => a + b, 0)), cells: all, privacy: null });
    }
    const drift = analyzeDrift(big, aggregate);
    const f0 = drift.features[0]!;
    expect(f0.qValue).toBeLessThanOrEqual(0.01);
    expect(f0.verdict).toBe('no_drift');
    expect(f0.reason).toMatch(/below the floor/);
  });

  it('refuses an aggregate of another profile', () => {
    const other = ReferenceProfile.fromSamples({ id: 'other', numeric: [{ name: 'x', values: [1, 2, 3] }] });
    expect(() => analyzeDrift(other, SummaryAggregate.empty(reference))).toThrow(/not "other"/);
  });
});
