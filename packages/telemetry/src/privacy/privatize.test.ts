import { describe, expect, it } from 'vitest';
import { seededRng } from '../random/rng.js';
import type { RecordedSummaries } from '../record/feature-recorder.js';
import { assertSummariesConsistent } from '../report/summaries-schema.js';
import { discreteLaplaceVariance } from './discrete-laplace.js';
import { privatizeSummaries } from './privatize.js';

const recorded: RecordedSummaries = {
  profile: 'm@1',
  totals: [300, 40],
  cells: [
    [100, 100, 100, 0],
    [10, 30],
  ],
};

describe('privatizeSummaries', () => {
  it('is deterministic for a seed, clips totals and adds integer noise', () => {
    const a = privatizeSummaries(recorded, { privacy: { epsilon: 2, clip: 50 }, rng: seededRng(1) });
    const b = privatizeSummaries(recorded, { privacy: { epsilon: 2, clip: 50 }, rng: seededRng(1) });
    expect(a).toEqual(b);
    expect(a.totals).toEqual([50, 40]);
    expect(a.privacy).toEqual({ mechanism: 'discrete_laplace', epsilon: 2, clip: 50 });
    expect(a.cells.flat().every(Number.isInteger)).toBe(true);
    expect(a.cells).not.toEqual([[17, 17, 16, 0], [10, 30]]);
    expect(() => assertSummariesConsistent(a)).not.toThrow();
  });

  it('adds unbiased noise of variance 2a/(1−a)² with ε split over entries', () => {
    const rng = seededRng(9);
    const epsilon = 1;
    const expectedVariance = discreteLaplaceVariance(epsilon / 2);
    let sum = 0;
    let sumSq = 0;
    const trials = 20_000;
    for (let t = 0; t < trials; t++) {
      const noise = privatizeSummaries(recorded, { privacy: { epsilon, clip: 1000 }, rng }).cells[1]![0]! - 10;
      sum += noise;
      sumSq += noise * noise;
    }
    expect(Math.abs(sum / trials)).toBeLessThan(4 * Math.sqrt(expectedVariance / trials));
    expect(sumSq / trials / expectedVariance).toBeGreaterThan(0.94);
    expect(sumSq / trials / expectedVariance).toBeLessThan(1.06);
  });

  it('passes raw counts through when privacy is off', () => {
    const raw = privatizeSummaries(recorded, { privacy: false });
    expect(raw).toEqual({ ...recorded, privacy: null });
    expect(() => assertSummariesConsistent(raw)).not.toThrow();
  });
});
