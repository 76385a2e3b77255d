import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { discreteLaplaceVariance } from '../privacy/discrete-laplace.js';
import { ReferenceProfile } from '../profile/reference-profile.js';
import type { ReportSummaries } from '../report/summaries-schema.js';
import { SummaryAggregate } from './summary-aggregate.js';

const profile = ReferenceProfile.fromJSON({
  format: 'edgeloop-reference-profile',
  version: 1,
  id: 'm@1',
  numeric: [{ name: 'x', role: 'input', edges: [0, 1], cells: [5, 5, 5], nan: 0 }],
  categorical: [{ name: 'label', role: 'output', vocabulary: ['a'], cells: [3, 1] }],
});

const noisedReport: fc.Arbitrary<ReportSummaries> = fc
  .record({
    x: fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 4, maxLength: 4 }),
    label: fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 2, maxLength: 2 }),
    totals: fc.tuple(fc.nat(100), fc.nat(100)),
    epsilon: fc.constantFrom(0.25, 0.5, 1, 2), // small enough that ±50 is plausible noise
  })
  .map(({ x, label, totals, epsilon }) => ({
    profile: 'm@1',
    totals: [...totals],
    cells: [x, label],
    privacy: { mechanism: 'discrete_laplace' as const, epsilon, clip: 100 },
  }));

function aggregateOf(reports: ReportSummaries[]): SummaryAggregate {
  const aggregate = SummaryAggregate.empty(profile);
  for (const r of reports) aggregate.add(r);
  return aggregate;
}

describe('SummaryAggregate', () => {
  it('merges bit-identically in any order, equal to adding every report to one aggregate (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(noisedReport, { maxLength: 5 }), { minLength: 1, maxLength: 5 }), (groups) => {
        const all = JSON.stringify(aggregateOf(groups.flat()).toJSON());
        const forward = groups.map(aggregateOf).reduce((a, b) => a.merge(b));
        const backward = groups.map(aggregateOf).reverse().reduce((a, b) => a.merge(b));
        expect(JSON.stringify(forward.toJSON())).toBe(all);
        expect(JSON.stringify(backward.toJSON())).toBe(all);
        expect(forward.noiseVariancePerCell()).toBe(backward.noiseVariancePerCell());
        const copy = SummaryAggregate.fromJSON(JSON.parse(all), profile);
        expect(JSON.stringify(copy.toJSON())).toBe(all);
      }),
    );
  });

  it('sums cells and totals and derives the noise variance from the ε tally', () => {
    const raw: ReportSummaries = { profile: 'm@1', totals: [2, 1], cells: [[1, 0, 1, 0], [1, 0]], privacy: null };
    const noised: ReportSummaries = {
      profile: 'm@1',
      totals: [2, 1],
      cells: [[3, -1, 0, 2], [0, 4]],
      privacy: { mechanism: 'discrete_laplace', epsilon: 4, clip: 100 },
    };
    const aggregate = aggregateOf([raw, noised, noised]);
    expect(aggregate.reports).toBe(3);
    expect(aggregate.cellsOf(0)).toEqual([7, -2, 1, 4]);
    expect(aggregate.totalOf(1)).toBe(3);
    // Two noised reports, ε = 4 split over 2 entries.
    expect(aggregate.noiseVariancePerCell()).toBeCloseTo(2 * discreteLaplaceVariance(2), 12);
    expect(aggregateOf([raw]).noiseVariancePerCell()).toBe(0);
  });

  it('refuses reports and aggregates of another profile or shape', () => {
    const aggregate = SummaryAggregate.empty(profile);
    expect(() => aggregate.add({ profile: 'other', totals: [0, 0], cells: [[0, 0, 0, 0], [0, 0]], privacy: null })).toThrow(
      /profile "other" but this aggregate is for "m@1"/,
    );
    expect(() => aggregate.add({ profile: 'm@1', totals: [0, 0], cells: [[0, 0, 0], [0, 0]], privacy: null })).toThrow(
      /cells \[3, 2\] but profile "m@1" has \[4, 2\]/,
    );
    const json = aggregate.toJSON();
    expect(() => SummaryAggregate.fromJSON({ ...json, noise: [[1, 5]] }, profile)).toThrow(/5 noised reports but only 0/);
    expect(() => SummaryAggregate.fromJSON({ ...json, cells: [[0.5, 0, 0, 0], [0, 0]] }, profile)).toThrow(/integer cells/);
  });
});
