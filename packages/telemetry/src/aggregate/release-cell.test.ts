import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { defaultTelemetryConfig } from '../config/telemetry-config.js';
import type { ReportEntry } from '../report/report.js';
import { ReleaseCell } from './release-cell.js';

const config = defaultTelemetryConfig('tc_1', { counters: { retries: { clip: 5, epsilon: 0.5 } }, latency: { vad: { wasm: { latencyP50: { center: 40, halfRange: 16 }, latencyP95: { center: 40, halfRange: 16 } } } } });
const entryArb: fc.Arbitrary<{ entry: ReportEntry; entries: number }> = fc.record({
  entries: fc.integer({ min: 1, max: 4 }),
  entry: fc.record({
    model: fc.constant('vad'),
    version: fc.constant('1'),
    backend: fc.constantFrom('wasm', 'webgpu'),
    health: fc.record({
      errored: fc.constantFrom(0, 1),
      errorKind: fc.integer({ min: 0, max: 5 }),
      latencyP50: fc.integer({ min: -5000, max: 5000 }),
      latencyP95: fc.integer({ min: -5000, max: 5000 }),
      reverted: fc.constantFrom(0, 1),
      fellBack: fc.constantFrom(0, 1),
      inferences: fc.integer({ min: -100_000, max: 100_000 }),
    }),
    counters: fc.record({ retries: fc.integer({ min: -3000, max: 3000 }) }),
    summary: fc.option(fc.record({ profile: fc.constant('p'), feature: fc.integer({ min: 0, max: 1 }), cell: fc.integer({ min: 0, max: 2 }) }), { nil: undefined }),
  }) as fc.Arbitrary<ReportEntry>,
});

function cellOf(items: ReadonlyArray<{ entry: ReportEntry; entries: number }>): ReleaseCell {
  const cell = new ReleaseCell();
  for (const { entry, entries } of items) cell.add(entry, config, entries, [3, 3]);
  return cell;
}

describe('ReleaseCell', () => {
  it('merges bit-identically in any order and grouping (property)', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 30 }), fc.nat(), (items, cut) => {
        const whole = cellOf(items);
        const k = items.length === 0 ? 0 : cut % (items.length + 1);
        const merged = cellOf(items.slice(k)).merge(cellOf(items.slice(0, k)));
        const reversed = cellOf([...items].reverse());
        expect(JSON.stringify(merged.toJSON())).toBe(JSON.stringify(whole.toJSON()));
        expect(JSON.stringify(reversed.toJSON())).toBe(JSON.stringify(whole.toJSON()));
        expect(JSON.stringify(ReleaseCell.fromJSON(JSON.parse(JSON.stringify(whole.toJSON()))).toJSON())).toBe(JSON.stringify(whole.toJSON()));
      }),
    );
  });

  it('keeps ε groups apart, latency in absolute units, Σx² exact beyond 2^53', () => {
    const base = { model: 'vad', version: '1', backend: 'wasm', counters: { retries: 1 } };
    const health: ReportEntry['health'] = { errored: 1, errorKind: 2, latencyP50: 16, latencyP95: 20, reverted: 0, fellBack: 0, inferences: 94_906_267 };
    const cell = new ReleaseCell().add({ ...base, health }, config, 1).add({ ...base, health }, config, 2);
    const e = config.health.errored.epsilon;
    expect(cell.rrGroups('errored')).toEqual([{ epsilon: e / 2, n: 1, ones: 1 }, { epsilon: e, n: 1, ones: 1 }]);
    const p95 = cell.sumStat('latencyP95')!;
    expect(p95.sum).toBe(2 * (20 + 40 - 16));
    const inferences = cell.sumStat('inferences')!;
    expect(inferences.sumSq).toBe(2n * 94_906_267n * 94_906_267n);
    // One square is odd and above 2^53: a double would have rounded it.
    expect(BigInt(Number(94_906_267n * 94_906_267n))).not.toBe(94_906_267n * 94_906_267n);
    expect(cell.sumStat('counter:retries')!.noise).toEqual([{ epsilon: 0.25, clip: 5, n: 1 }, { epsilon: 0.5, clip: 5, n: 1 }]);
  });

  it('refuses a corrupted stored cell instead of skewing a view', () => {
    const json = cellOf([]).toJSON();
    expect(() => ReleaseCell.fromJSON({ ...json, reports: -1 })).toThrow(/invalid release cell: reports/);
    expect(() => ReleaseCell.fromJSON({ ...json, rr: { ...json.rr, errored: [[1, 2, 3]] } })).toThrow(/rr\.errored/);
    expect(() => ReleaseCell.fromJSON({ ...json, laplace: { ...json.laplace, latencyP50: { n: 1, sum: 1, sumSq: '-1', noise: [] } } })).toThrow(/sum statistic/);
  });
});
