/**
 * Fleets for the drift figures of `npm run bench:privacy`: every device has 16 numeric features,
 * N(0, 1) in the reference, with between-device heterogeneity (each device's values of a feature
 * share a N(0, icc) offset, the rest N(0, 1 − icc), so the intra-class correlation is `icc`) and
 * makes `perDevice` inferences in its day; a shifted feature moves by `shift` reference σ.
 *
 * Two ways to turn one device-day into its report, which must agree:
 * - {@link pipelineDay}: what a device runs — every inference recorded by the real `FeatureRecorder`,
 *   the day sealed by the real `sealReport` under the config (which draws one declared feature
 *   uniformly, then one of its recorded values uniformly, through k-ary randomized response);
 * - {@link sampledDay}: the same draw taken directly — a feature uniformly, one inference's value of
 *   it, its cell (float32, as the recorder compares), k-RR with the config's ε — a few hundred
 *   nanoseconds instead of ~100 µs, which is what lets the bench repeat 100,000-device days
 *   thousands of times. `e2e/privacy-drift.test.ts` checks that both give the same distribution.
 */
import {
  emptyEntry,
  FeatureRecorder,
  fieldEpsilon,
  kRandomizedResponse,
  ReferenceProfile,
  ReleaseCell,
  sealReport,
  type Rng,
  type RrGroup,
  type TelemetryConfig,
} from '@edgeloop/telemetry';
import { normalQuantile } from './normal-quantile.js';

export const FEATURES = 16;
export const INFERENCES_PER_DAY = 50;
export const ICC = 0.3;
/** Reference values per feature (a validation set of this size). */
export const REFERENCE_SIZE = 20_000;

export interface FleetDay {
  devices: number;
  /** Intra-class correlation of a device's values of one feature. */
  icc: number;
  /** Per feature: its shift in reference σ (absent: 0). */
  shift: readonly number[];
  /** Inferences each device records in the day. */
  perDevice: number;
}

/** The reference profile: `features` N(0, 1) features cut at reference quantiles (8 equal-mass bins and 1 % tail cells by default). */
export function normalProfile(options: { features?: number; bins?: number; tails?: number | false } = {}): ReferenceProfile {
  const values = Float64Array.from({ length: REFERENCE_SIZE }, (_, k) => normalQuantile((k + 0.5) / REFERENCE_SIZE));
  return ReferenceProfile.fromSamples({
    id: 'bench@1/ref',
    ...(options.bins !== undefined && { bins: options.bins }),
    ...(options.tails !== undefined && { tails: options.tails }),
    numeric: Array.from({ length: options.features ?? FEATURES }, (_, f) => ({ name: `f${f}`, values })),
  });
}

/** Standard normal draws (Box–Muller, both values of each pair used). */
export function normalSource(rng: Rng): () => number {
  let spare = Number.NaN;
  return function normal() {
    if (spare === spare) {
      const v = spare;
      spare = Number.NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const theta = 2 * Math.PI * rng.next();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

/** Per feature, the ε groups of reported cells: what `ReleaseCell.summaryGroups` gives `analyzeDrift`. */
export type SummaryGroups = RrGroup[][];

/**
 * One day of the fleet through the device pipeline: `perDevice` inferences per device recorded by
 * `FeatureRecorder`, sealed by `sealReport` under `config`, merged by `ReleaseCell` like a release.
 */
export function pipelineDay(day: FleetDay, profile: ReferenceProfile, config: TelemetryConfig, rng: Rng): { cell: ReleaseCell; groups: SummaryGroups } {
  const normal = normalSource(rng);
  const features = profile.numeric.length;
  const cellCounts = profile.cellCounts();
  const recorder = new FeatureRecorder(profile);
  const declared = recorder.declaredEntries();
  const row = new Float64Array(features);
  const offsets = new Float64Array(features);
  const within = Math.sqrt(1 - day.icc);
  const between = Math.sqrt(day.icc);
  const cell = new ReleaseCell();
  for (let d = 0; d < day.devices; d++) {
    for (let f = 0; f < features; f++) offsets[f] = between * normal() + (day.shift[f] ?? 0);
    for (let i = 0; i < day.perDevice; i++) {
      for (let f = 0; f < features; f++) row[f] = offsets[f]! + within * normal();
      recorder.record(row);
    }
    const entry = emptyEntry({ model: 'm', version: '1', backend: 'wasm', cohort: null });
    entry.attempts = day.perDevice;
    entry.successes = day.perDevice;
    entry.lastUsed = 1;
    entry.features = { profile: profile.id, declared, cells: recorder.drain().cells };
    const sealed = sealReport({ app: 'bench', period: 0, config, entries: [entry], reportId: `d${d}`, rng });
    cell.add(sealed!.report.models[0]!, config, 1, cellCounts);
  }
  return { cell, groups: cell.summaryGroups(profile.id) };
}

/**
 * One day of the fleet, each device's report drawn directly (see the module comment): the feature
 * uniformly among the profile's, one inference's value of it (offset + within-device noise + shift),
 * its cell among the float32 edges, then k-ary randomized response with the drift ε of a
 * one-entry report. `features` reports per device lets the bench measure the alternative of
 * reporting several features at ε / features each.
 */
export function sampledDay(day: FleetDay, profile: ReferenceProfile, epsilon: number, rng: Rng, featuresPerReport = 1): SummaryGroups {
  const normal = normalSource(rng);
  const count = profile.numeric.length;
  const edges = profile.numeric.map((f) => Float64Array.from(f.edges, Math.fround));
  const cellCounts = profile.cellCounts();
  const counts = cellCounts.map((k) => new Array<number>(k).fill(0));
  const within = Math.sqrt(1 - day.icc);
  const between = Math.sqrt(day.icc);
  const share = fieldEpsilon(epsilon, featuresPerReport);
  const order = Int32Array.from({ length: count }, (_, f) => f);
  for (let d = 0; d < day.devices; d++) {
    for (let j = 0; j < featuresPerReport; j++) {
      // Distinct features, uniformly: a partial Fisher–Yates shuffle of the feature indexes.
      const r = j + Math.floor(rng.next() * (count - j));
      const f = order[r]!;
      order[r] = order[j]!;
      order[j] = f;
      const value = Math.fround(between * normal() + within * normal() + (day.shift[f] ?? 0));
      const e = edges[f]!;
      let lo = 0;
      let hi = e.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (e[mid]! <= value) lo = mid + 1;
        else hi = mid;
      }
      counts[f]![kRandomizedResponse(lo, cellCounts[f]!, share, rng)]! += 1;
    }
  }
  return counts.map((c) => [{ epsilon: share, counts: c }]);
}
