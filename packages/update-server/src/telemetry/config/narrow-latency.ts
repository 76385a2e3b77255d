import { latencyRange, sumEstimate, type TelemetryConfig } from '@edgeloop/telemetry';
import type { Database } from '../../db/database.js';
import { readReleases } from '../releases/release-store.js';
import type { TelemetryConfigStore } from './config-store.js';

/** A (model, backend) range is narrowed once this many reports of it were released (last 7 days). */
export const NARROW_MIN_REPORTS = 200;
/** A narrowed range is ±2 octaves around the released centre. */
export const NARROW_HALF_RANGE = 16;
/** An app's ranges change at most once per this long. */
export const NARROW_EVERY_MS = 86_400_000;
/** A narrowed range is moved again only when the released centre moved by at least this much (½ octave). */
export const NARROW_MIN_SHIFT = 4;
/**
 * …and only when the released centre is known to within this standard error (½ octave). Under the
 * default config one p50 carries discrete Laplace noise of standard deviation ≈ 450 units (ε 0.4 on
 * a 128-unit clip), so 200 reports know the centre only to ≈ 32 units (4 octaves): a range of
 * ± 2 octaves around it would clip most devices. This guard waits until the data can tell.
 */
export const NARROW_MAX_SE = 4;
const LOOKBACK_MS = 7 * 86_400_000;
/** The config schema's bounds on a centre. */
const CENTER_MIN = -160;
const CENTER_MAX = 320;

export interface NarrowedApp {
  app: string;
  config: TelemetryConfig;
  /** `model/backend` → the new range. */
  changed: Record<string, { center: number; halfRange: number }>;
}

/**
 * Narrows latency clip ranges from released data. Devices clip each latency to their (model,
 * backend) range before adding noise whose scale grows with the range, so a range that fits the
 * real latencies gives far less noise than the default (16 ms ± 8 octaves). Once a (model, backend)
 * has {@link NARROW_MIN_REPORTS} reports released in the last 7 days and their mean is known to
 * {@link NARROW_MAX_SE} units, its range becomes the released geometric mean of p50 (a mean of
 * latency units, rounded) ± {@link NARROW_HALF_RANGE} units. All
 * changes of an app go into one new config, at most once per {@link NARROW_EVERY_MS}; both arms of a
 * rollout share the app's config, so the gate still compares like with like.
 */
export async function narrowLatencyRanges(deps: { db: Database; configs: TelemetryConfigStore }, now: Date): Promise<NarrowedApp[]> {
  const apps = await deps.db.query<{ app: string }>('select distinct app from telemetry_configs order by app');
  const out: NarrowedApp[] = [];
  for (const { app } of apps) {
    const history = await deps.configs.history(app);
    const current = history[history.length - 1]!.config;
    const lastNarrowed = history.filter((h) => h.reason === 'latency').pop();
    if (lastNarrowed && now.getTime() - lastNarrowed.issuedAt.getTime() < NARROW_EVERY_MS) continue;
    const sums = new Map<string, { model: string; backend: string; n: number; sum: number; sumSq: bigint }>();
    for (const release of await readReleases(deps.db, app, { from: new Date(now.getTime() - LOOKBACK_MS) })) {
      const stat = release.cell.sumStat('latencyP50');
      if (!stat || stat.n === 0) continue;
      const id = `${release.model}/${release.backend}`;
      const entry = sums.get(id) ?? { model: release.model, backend: release.backend, n: 0, sum: 0, sumSq: 0n };
      entry.n += stat.n;
      entry.sum += stat.sum;
      entry.sumSq += stat.sumSq;
      sums.set(id, entry);
    }
    const latency: TelemetryConfig['latency'] = structuredClone(current.latency);
    const changed: NarrowedApp['changed'] = {};
    for (const [id, { model, backend, n, sum, sumSq }] of sums) {
      if (n < NARROW_MIN_REPORTS || sumEstimate({ n, sum, sumSq }).se > NARROW_MAX_SE) continue;
      const center = Math.min(CENTER_MAX, Math.max(CENTER_MIN, Math.round(sum / n)));
      const range = latencyRange(current, model, backend);
      if (range.halfRange === NARROW_HALF_RANGE && Math.abs(range.center - center) < NARROW_MIN_SHIFT) continue;
      (latency[model] ??= {})[backend] = { center, halfRange: NARROW_HALF_RANGE };
      changed[id] = { center, halfRange: NARROW_HALF_RANGE };
    }
    if (Object.keys(changed).length === 0) continue;
    const { config, issued } = await deps.configs.issueLatency(app, latency);
    if (issued) out.push({ app, config, changed });
  }
  return out;
}
