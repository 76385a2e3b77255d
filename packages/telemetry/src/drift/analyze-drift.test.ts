import { describe, expect, it } from 'vitest';
import { ReleaseCell } from '../aggregate/release-cell.js';
import { defaultTelemetryConfig } from '../config/telemetry-config.js';
import { kRandomizedResponse } from '../privacy/mechanisms.js';
import { ReferenceProfile } from '../profile/reference-profile.js';
import { seededRng } from '../random/rng.js';
import { simulateFleet } from '../testing/fleet.js';
import { gaussian, multinomial } from '../testing/random.js';
import { analyzeDrift } from './analyze-drift.js';

const FEATURES = 6;
const rng = seededRng(99);
const reference = ReferenceProfile.fromSamples({
  id: 'vad@5',
  numeric: Array.from({ length: FEATURES }, (_, f) => ({ name: `f${f}`, values: Float64Array.from({ length: 20_000 }, () => gaussian(rng)) })),
  categorical: [{ name: 'label', role: 'output', values: Array.from({ length: 20_000 }, () => (rng.next() < 0.7 ? 'speech' : 'silence')) }],
});
const config = defaultTelemetryConfig();

describe('analyzeDrift (one randomized value per report)', () => {
  it('shows nothing below the minimum number of reports', () => {
    const cell = simulateFleet({ devices: 19, perDevice: 50, profile: reference, config, rng: seededRng(1) });
    const drift = analyzeDrift(reference, cell.summaryGroups(reference.id), cell.reports);
    expect(drift).toMatchObject({ verdict: 'insufficient_data', reports: 19, minReports: 20, features: [] });
  });

  it('finds no drift without a shift, under default privacy and between-device heterogeneity (ICC 0.3)', () => {
    const cell = simulateFleet({ devices: 1400, perDevice: 50, profile: reference, config, rng: seededRng(2), icc: 0.3 });
    const drift = analyzeDrift(reference, cell.summaryGroups(reference.id), cell.reports);
    expect(drift.verdict).toBe('no_drift');
    expect(drift.features).toHaveLength(FEATURES + 1);
    // Each report carries one of the 7 features.
    expect(drift.features.reduce((a, f) => a + f.reports, 0)).toBe(1400);
    expect(drift.features[0]!.privacy).toEqual([{ epsilon: 5, reports: drift.features[0]!.reports, keepProbability: expect.closeTo(Math.exp(5) / (Math.exp(5) + 10), 9) }]);
    for (const f of drift.features) expect(f.reason).toMatch(/not significant|below the floor/);
  });

  it('flags exactly the shifted feature through the noise, with the numbers behind it', () => {
    const cell = simulateFleet({ devices: 2800, perDevice: 50, profile: reference, config, rng: seededRng(3), shift: [0, 0, 0.5] });
    const drift = analyzeDrift(reference, cell.summaryGroups(reference.id), cell.reports);
    expect(drift.verdict).toBe('drift');
    expect(drift.features.filter((f) => f.verdict === 'drift').map((f) => f.name)).toEqual(['f2']);
    const f2 = drift.features[2]!;
    expect(f2.qValue).toBeLessThanOrEqual(0.01);
    // 0.5σ ≈ 0.14 on the reference probability scale.
    expect(f2.effect.wasserstein!).toBeGreaterThan(0.08);
    expect(f2.effect.wasserstein!).toBeLessThan(0.2);
    expect(f2.psi.exceeded).toBe(true);
    expect(f2.reason).toMatch(/q = .* ≤ 0.01 and W₁ = .* reaches its floor/);
  });

  it('sees a change that only moves the tails (open-ended tail cells)', () => {
    // Values beyond the 99 % quantile triple; the 8 equal-mass bins alone would not notice.
    const profile = ReferenceProfile.fromSamples({ id: 't', numeric: [{ name: 'x', values: Float64Array.from({ length: 50_000 }, () => gaussian(rng)) }] });
    const k = profile.cellCounts()[0]!;
    const tail = profile.numeric[0]!.cells;
    const total = tail.reduce((a, b) => a + b, 0);
    const shares = [...tail.map((c) => c / total), 0];
    shares[k - 2] = shares[k - 2]! * 3;
    shares[k - 3] = shares[k - 3]! - (shares[k - 2]! * 2) / 3;
    const r = seededRng(8);
    const counts = new Array<number>(k).fill(0);
    for (const cellIndex of multinomialIndexes(8000, shares, r)) counts[kRandomizedResponse(cellIndex, k, 5, r)]! += 1;
    const drift = analyzeDrift(profile, [[{ epsilon: 5, counts }]], 8000);
    expect(profile.numeric[0]!.edges).toHaveLength(9); // 7 inner edges + 2 tail edges
    expect(drift.features[0]!.verdict).toBe('drift');
  });

  it('flags a NaN spike and an output-class shift', () => {
    const cell = simulateFleet({ devices: 4000, perDevice: 50, profile: reference, config, rng: seededRng(4), nanShare: 0.1, firstCategoryShare: 0.5 });
    const drift = analyzeDrift(reference, cell.summaryGroups(reference.id), cell.reports);
    const byName = Object.fromEntries(drift.features.map((f) => [f.name, f]));
    expect(byName.f1!.verdict).toBe('drift');
    expect(byName.f1!.nanRate!.observed).toBeGreaterThan(0.04);
    expect(byName.label!.verdict).toBe('drift');
    expect(byName.label!.role).toBe('output');
    expect(byName.f0!.verdict).toBe('no_drift');
  });

  it('calls a tiny shift at huge n significant but below the effect-size floor', () => {
    const json = reference.toJSON();
    const big = ReferenceProfile.fromJSON({ ...json, numeric: json.numeric.map((f) => ({ ...f, cells: f.cells.map((c) => c * 1000), nan: 0 })) });
    const f0 = big.numeric[0]!;
    const total = f0.cells.reduce((a, b) => a + b, 0);
    // Tilt the proportions by ±0.3 % — real but negligible — and report 3 M values.
    const tilted = [...f0.cells.map((c, i) => (c / total) * (1 + 0.003 * (i - 4.5))), 0];
    const norm = tilted.reduce((a, b) => a + b, 0);
    const counts = multinomial(3_000_000, tilted.map((x) => x / norm), seededRng(5));
    const features = big.cellCounts().map((k, e) => (e === 0 ? [{ epsilon: 50, counts }] : [{ epsilon: 5, counts: new Array<number>(k).fill(0) }]));
    const drift = analyzeDrift(big, features, 3_000_000);
    expect(drift.features[0]!.qValue).toBeLessThanOrEqual(0.01);
    expect(drift.features[0]!.verdict).toBe('no_drift');
    expect(drift.features[0]!.reason).toMatch(/below the floor/);
  });

  it('refuses summaries shaped for another profile', () => {
    const other = ReferenceProfile.fromSamples({ id: 'other', numeric: [{ name: 'x', values: [1, 2, 3] }] });
    const cell = new ReleaseCell();
    expect(() => analyzeDrift(other, [[], []], 30)).toThrow(/2 features but profile "other" has 1/);
    expect(analyzeDrift(other, cell.summaryGroups('other'), 30).features[0]!.reason).toBe('no report carried this feature');
  });
});

function* multinomialIndexes(n: number, p: readonly number[], r: ReturnType<typeof seededRng>): Generator<number> {
  for (let i = 0; i < n; i++) {
    let u = r.next();
    let j = 0;
    while (j < p.length - 1 && u >= p[j]!) u -= p[j++]!;
    yield j;
  }
}
