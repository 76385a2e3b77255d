import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReferenceProfile } from '../profile/reference-profile.js';
import { BinnedHistogram } from '../summaries/binned-histogram.js';
import { CategoricalCounts } from '../summaries/categorical-counts.js';
import { FeatureRecorder } from './feature-recorder.js';

const profile = ReferenceProfile.fromJSON({
  format: 'edgeloop-reference-profile',
  version: 1,
  id: 'm@1',
  numeric: [
    { name: 'a', role: 'input', edges: [0, 1, 2], cells: [1, 1, 1, 1], nan: 0 },
    { name: 'b', role: 'input', edges: [-5], cells: [2, 2], nan: 0 },
    { name: 'score', role: 'output', edges: [0.25, 0.5, 0.75], cells: [1, 1, 1, 1], nan: 0 },
  ],
  categorical: [{ name: 'label', role: 'output', vocabulary: ['cat', 'dog'], cells: [1, 1, 0] }],
});

describe('FeatureRecorder', () => {
  it('counts like one BinnedHistogram / CategoricalCounts per feature (property)', () => {
    const x = fc.oneof(fc.double(), fc.constantFrom(0, 1, 2, -5, 0.5));
    const row = fc.tuple(x, x, x).map((t) => [...t]);
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), fc.array(fc.constantFrom('cat', 'dog', 'emu')), (rows, labels) => {
        const recorder = new FeatureRecorder(profile);
        const expected = profile.numeric.map((f) => new BinnedHistogram(f.edges));
        const label = new CategoricalCounts(['cat', 'dog']);
        for (const r of rows) {
          recorder.record(Float64Array.from(r));
          r.forEach((v, i) => expected[i]!.record(v));
        }
        const li = recorder.categoryIndex('label');
        for (const l of labels) {
          recorder.recordCategory(li, l);
          label.record(l);
        }
        const snapshot = recorder.drain();
        expect(snapshot.cells).toEqual([...expected.map((h) => [...h.cells, h.nan]), label.cells]);
        expect(snapshot.totals).toEqual([rows.length, rows.length, rows.length, labels.length]);
        expect(recorder.snapshot().totals).toEqual([0, 0, 0, 0]);
      }),
    );
  });

  it('accepts plain arrays and refuses a wrong feature count or category index', () => {
    const recorder = new FeatureRecorder(profile);
    recorder.record([0.5, -6, Number.NaN]);
    expect(recorder.snapshot().cells.slice(0, 3)).toEqual([
      [0, 1, 0, 0, 0],
      [1, 0, 0],
      [0, 0, 0, 0, 1],
    ]);
    expect(() => recorder.record([1, 2])).toThrow(/needs 3 numeric features in profile "m@1" order, got 2/);
    expect(() => recorder.recordCategory(3, 'cat')).toThrow(/categoryIndex/);
    expect(() => recorder.categoryIndex('nope')).toThrow(/no categorical feature "nope"/);
  });
});
