import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReferenceProfile } from '../profile/reference-profile.js';
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

/** The obvious oracle: count edges ≤ x (in float32), NaN last. */
function naiveCell(edges: readonly number[], x: number): number {
  const v = Math.fround(x);
  if (v !== v) return edges.length + 1;
  return edges.filter((e) => Math.fround(e) <= v).length;
}

describe('FeatureRecorder', () => {
  it('counts every value in the cell the naive float32 rule gives (property)', () => {
    const x = fc.oneof(fc.double(), fc.constantFrom(0, 1, 2, -5, 0.5, 0.25));
    const row = fc.tuple(x, x, x).map((t) => [...t]);
    fc.assert(
      fc.property(fc.array(row, { maxLength: 40 }), fc.array(fc.constantFrom('cat', 'dog', 'emu')), (rows, labels) => {
        const recorder = new FeatureRecorder(profile);
        const expected = profile.cellCounts().map((k) => new Array<number>(k).fill(0));
        for (const r of rows) {
          recorder.record(Float64Array.from(r));
          r.forEach((v, i) => (expected[i]![naiveCell(profile.numeric[i]!.edges, v)]! += 1));
        }
        const li = recorder.categoryIndex('label');
        for (const l of labels) {
          recorder.recordCategory(li, l);
          expected[3]![l === 'cat' ? 0 : l === 'dog' ? 1 : 2]! += 1;
        }
        const snapshot = recorder.drain();
        expect(snapshot.cells).toEqual(expected);
        expect(snapshot.totals).toEqual([rows.length, rows.length, rows.length, labels.length]);
        expect(recorder.snapshot().totals).toEqual([0, 0, 0, 0]);
      }),
    );
  });

  it('puts a value computed in float32 and the same value in float64 in one cell', () => {
    // 0.7 in float32 is 0.699999988…, below a float64 edge at 0.7: compared in float64 they split.
    const p = ReferenceProfile.fromSamples({ id: 'd', bins: 4, tails: false, numeric: [{ name: 'x', values: [0.1, 0.3, 0.5, 0.7, 0.7, 0.7, 0.9, 0.9] }] });
    const recorder = new FeatureRecorder(p);
    recorder.record([0.7]);
    recorder.record([Math.fround(0.7)]);
    const cells = recorder.drain().cells[0]!;
    expect(cells.filter((c) => c > 0)).toEqual([2]);
    // The reference counted its 0.7s in that same cell.
    expect(p.numeric[0]!.cells[cells.indexOf(2)]).toBeGreaterThanOrEqual(3);
  });

  it('never counts a feature the app did not declare, whatever the profile lists', () => {
    const recorder = new FeatureRecorder(profile, ['b', 'label']);
    expect(recorder.declaredEntries()).toEqual([1, 3]);
    recorder.record([0.5, -6, 0.9]);
    recorder.recordCategory(recorder.categoryIndex('label'), 'cat');
    expect(recorder.drain().totals).toEqual([0, 1, 0, 1]);
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
