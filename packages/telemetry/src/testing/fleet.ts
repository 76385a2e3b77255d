import { ReleaseCell } from '../aggregate/release-cell.js';
import type { TelemetryConfig } from '../config/telemetry-config.js';
import { sealReport } from '../device/seal-report.js';
import { LatencyHistogram } from '../latency/latency-histogram.js';
import type { ReferenceProfile } from '../profile/reference-profile.js';
import type { Rng } from '../random/rng.js';
import { emptyEntry } from '../record/entry-accumulator.js';
import { FeatureRecorder } from '../record/feature-recorder.js';
import { gaussian } from './random.js';

export interface FleetOptions {
  devices: number;
  perDevice: number;
  profile: ReferenceProfile;
  config: TelemetryConfig;
  rng: Rng;
  /** Additive shift per numeric feature, in reference σ (features are N(0, 1) in the reference). */
  shift?: readonly number[];
  /** Intra-class correlation: each device's values share a N(0, icc) offset. */
  icc?: number;
  /** Probability that numeric feature 1 is NaN. */
  nanShare?: number;
  /** Share of the first categorical value of categorical feature 0 (two values). */
  firstCategoryShare?: number;
  declared?: readonly string[];
}

/**
 * For tests: devices recording N(shift, 1) features through the real FeatureRecorder, sealed through
 * the real `sealReport` with `config`, merged into one ReleaseCell like the server does.
 */
export function simulateFleet(options: FleetOptions): ReleaseCell {
  const { profile, config, rng } = options;
  const cell = new ReleaseCell();
  const numeric = profile.numeric.length;
  const row = new Float64Array(numeric);
  const icc = options.icc ?? 0;
  for (let d = 0; d < options.devices; d++) {
    const recorder = new FeatureRecorder(profile, options.declared);
    const offset = Math.sqrt(icc) * gaussian(rng);
    for (let i = 0; i < options.perDevice; i++) {
      for (let f = 0; f < numeric; f++) row[f] = offset + Math.sqrt(1 - icc) * gaussian(rng) + (options.shift?.[f] ?? 0);
      if (options.nanShare !== undefined && rng.next() < options.nanShare) row[1] = Number.NaN;
      recorder.record(row);
      if (profile.categorical.length > 0) {
        const vocabulary = profile.categorical[0]!.vocabulary;
        recorder.recordCategory(0, rng.next() < (options.firstCategoryShare ?? 0.7) ? vocabulary[0]! : vocabulary[1]!);
      }
    }
    const entry = emptyEntry({ model: 'm', version: '1', backend: 'wasm', cohort: null });
    entry.attempts = options.perDevice;
    entry.successes = options.perDevice;
    const latency = new LatencyHistogram();
    for (let i = 0; i < options.perDevice; i++) latency.record(1 + rng.next());
    entry.latency = latency.toJSON();
    const snapshot = recorder.drain();
    entry.features = { profile: profile.id, declared: recorder.declaredEntries(), cells: snapshot.cells };
    const sealed = sealReport({ app: 'a', period: 1, config, entries: [entry], reportId: `r${d}`, rng });
    const model = sealed!.report.models[0]!;
    cell.add(model, config, 1, profile.cellCounts());
  }
  return cell;
}
