import { ReleaseCell } from '../aggregate/release-cell.js';
import type { TelemetryConfig } from '../config/telemetry-config.js';
import { sealReport } from '../device/seal-report.js';
import { LatencyHistogram } from '../latency/latency-histogram.js';
import type { Rng } from '../random/rng.js';
import { emptyEntry, type ReportCohort } from '../record/entry-accumulator.js';
import { gaussian } from './random.js';

export interface ArmOptions {
  devices: number;
  config: TelemetryConfig;
  rng: Rng;
  cohort: ReportCohort;
  /** Share of devices on each backend; default all wasm. */
  backends?: Record<string, number>;
  perDevice?: number;
  /** Per-inference error probability per backend (default 0.01). */
  errorRate?: Record<string, number>;
  /** Median latency in ms per backend (default 10); each device's median varies ±20 % (lognormal). */
  medianMs?: Record<string, number>;
}

/** For tests: one rollout arm of devices through the real `sealReport`, merged per backend like releases. */
export function simulateArm(o: ArmOptions): Map<string, ReleaseCell> {
  const cells = new Map<string, ReleaseCell>();
  const shares = Object.entries(o.backends ?? { wasm: 1 });
  const perDevice = o.perDevice ?? 50;
  for (let d = 0; d < o.devices; d++) {
    let u = o.rng.next();
    let backend = shares[0]![0];
    for (const [name, share] of shares) {
      if (u < share) {
        backend = name;
        break;
      }
      u -= share;
    }
    const entry = emptyEntry({ model: 'm', version: '1', backend, cohort: o.cohort });
    const p = o.errorRate?.[backend] ?? 0.01;
    const median = (o.medianMs?.[backend] ?? 10) * Math.exp(0.2 * gaussian(o.rng));
    const latency = new LatencyHistogram();
    let errors = 0;
    for (let i = 0; i < perDevice; i++) {
      if (o.rng.next() < p) errors += 1;
      else latency.record(median * Math.exp(0.3 * gaussian(o.rng)));
    }
    entry.attempts = perDevice;
    entry.successes = perDevice - errors;
    if (errors > 0) entry.errors = { engine: errors };
    entry.latency = latency.toJSON();
    const sealed = sealReport({ app: 'a', period: 1, config: o.config, entries: [entry], reportId: `r${d}`, rng: o.rng })!;
    let cell = cells.get(backend);
    if (cell === undefined) cells.set(backend, (cell = new ReleaseCell()));
    cell.add(sealed.report.models[0]!, o.config, 1);
  }
  return cells;
}
