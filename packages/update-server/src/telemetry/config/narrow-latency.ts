import { DEFAULT_LATENCY_RANGE, latencyRange, sumEstimate, type TelemetryConfig } from '@edgeloop/telemetry';
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
 * default config one p95 carries discrete Laplace noise of standard deviation ≈ 250 units (ε 0.73 on
 * the default 128-unit clip), so its centre is known to ½ octave after ≈ 4,000 reports; p50 (ε 0.05)
 * needs far more. A range of ± 2 octaves around a centre known worse than that would clip devices.
 */
export const NARROW_MAX_SE = 4;
const LOOKBACK_MS = 7 * 86_400_000;
/** The config schema's bounds on a centre. */
const CENTER_MIN = -160;
const CENTER_MAX = 320;

export interface NarrowedApp {
  app: string;
  config: TelemetryConfig;
  /** `model/backend/field` → the new range. */
  changed: Record<string, { center: number; halfRange: number }>;
}

const FIELDS = ['latencyP50', 'latencyP95'] as const;

/**
 * Narrows latency clip ranges from released data. Devices clip each latency to their (model,
 * backend, field) range before adding noise whose scale grows with the range, so a range that fits
 * the real latencies gives far less noise than the default (16 ms ± 8 octaves). Once a field of a
 * (model, backend) has {@link NARROW_MIN_REPORTS} reports released in the last 7 days and its mean
 * is known to {@link NARROW_MAX_SE} units, its range becomes the released geometric mean of that
 * field (p50 and p95 apart: a device's p95 sits well above its p50) ± {@link NARROW_HALF_RANGE}
 * units. Ranges the operator pinned are left alone. All changes of an app go into one new config, at
 * most once per {@link NARROW_EVERY_MS}; both arms of a rollout share the app's config, so the gate
 * still compares like with like.
 */
export async function narrowLatencyRanges(deps: { db: Database; configs: TelemetryConfigStore }, now: Date): Promise<NarrowedApp[]> {
  const apps = await deps.db.query<{ app: string }>('select distinct app from telemetry_configs order by app');
  const out: NarrowedApp[] = [];
  for (const { app } of apps) {
    const history = await deps.configs.history(app);
    const current = history[history.length - 1]!.config;
    const lastNarrowed = history.filter((h) => h.reason === 'latency').pop();
    if (lastNarrowed && now.getTime() - lastNarrowed.issuedAt.getTime() < NARROW_EVERY_MS) continue;
    const sums = new Map<string, { model: string; backend: string; field: (typeof FIELDS)[number]; n: number; sum: number; sumSq: bigint }>();
    for (const release of await readReleases(deps.db, app, { from: new Date(now.getTime() - LOOKBACK_MS) })) {
      if (deps.configs.pinned[release.model]?.[release.backend] !== undefined) continue;
      for (const field of FIELDS) {
        const stat = release.cell.sumStat(field);
        if (!stat || stat.n === 0) continue;
        // Only releases made wholly under the current ε of the field: a few reports under an older,
        // noisier config would swamp the variance that says whether the centre is known yet.
        if (stat.noise.some((g) => Math.abs(g.epsilon - current.health[field].epsilon) > 1e-9)) continue;
        const id = `${release.model}/${release.backend}/${field}`;
        const entry = sums.get(id) ?? { model: release.model, backend: release.backend, field, n: 0, sum: 0, sumSq: 0n };
        entry.n += stat.n;
        entry.sum += stat.sum;
        entry.sumSq += stat.sumSq;
        sums.set(id, entry);
      }
    }
    const latency: TelemetryConfig['latency'] = structuredClone(current.latency);
    const changed: NarrowedApp['changed'] = {};
    for (const [id, { model, backend, field, n, sum, sumSq }] of sums) {
      if (n < NARROW_MIN_REPORTS || sumEstimate({ n, sum, sumSq }).se > NARROW_MAX_SE) continue;
      const center = Math.min(CENTER_MAX, Math.max(CENTER_MIN, Math.round(sum / n)));
      const range = latencyRange(current, model, backend, field);
      if (range.halfRange === NARROW_HALF_RANGE && Math.abs(range.center - center) < NARROW_MIN_SHIFT) continue;
      const ranges = (latency[model] ??= {})[backend] ?? { latencyP50: { ...DEFAULT_LATENCY_RANGE }, latencyP95: { ...DEFAULT_LATENCY_RANGE } };
      ranges[field] = { center, halfRange: NARROW_HALF_RANGE };
      latency[model]![backend] = ranges;
      changed[id] = { center, halfRange: NARROW_HALF_RANGE };
    }
    if (Object.keys(changed).length === 0) continue;
    const { config, issued } = await deps.configs.issueLatency(app, latency);
    if (issued) out.push({ app, config, changed });
  }
  return out;
}
