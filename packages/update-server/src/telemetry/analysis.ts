import {
  analyzeDrift,
  applyReportFloor,
  DEFAULT_MIN_REPORTS,
  LatencyHistogram,
  SummaryAggregate,
  type VersionDrift,
} from '@edgeloop/telemetry';
import { parseCohortKey, type Cohort } from './cohort.js';
import type { ProfileStore } from './profile-store.js';
import type { AggregateFilter, AggregateRecord, TelemetryStore } from './telemetry-store.js';

/**
 * An aggregate behind the minimum-reports floor: shown with its numbers, or nothing but the floor.
 * Even the report count stays hidden below it, so no number derived from few devices leaves.
 */
export type Shown<T> = ({ shown: true; reports: number } & T) | { shown: false; minReports: number };

export function floored<T extends object>(reports: number, value: () => T, minReports = DEFAULT_MIN_REPORTS): Shown<T> {
  const result = applyReportFloor(reports, value, minReports);
  return result.shown ? { shown: true, reports, ...result.value } : { shown: false, minReports };
}

export interface Quantiles {
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
}

export interface PerformanceStats {
  inferences: number;
  errors: number;
  /** errors / (inferences + errors). */
  errorRate: number;
  errorsByKind: Record<string, number>;
  /** Runtime events by type; `backend-lost` counts backend fallbacks. */
  events: Record<string, number>;
  latencyMs: Quantiles;
  firstInferenceMs: Quantiles | null;
  loadMs: Quantiles | null;
}

export type PerformanceEntry = { model: string; version: string; backend: string } & Shown<PerformanceStats>;
export type CohortEntry = { model: string; version: string; cohort: Cohort | null } & Shown<Omit<PerformanceStats, 'firstInferenceMs' | 'loadMs' | 'events' | 'errorsByKind'>>;
export type DriftEntry = {
  model: string;
  version: string;
  cohort?: Cohort | null;
  /** The reference profile compared against; null when the version has none. */
  profile: string | null;
} & Shown<{ drift: Omit<VersionDrift, 'reports' | 'minReports'> }>;

/**
 * What the admin API shows of telemetry: performance per version and backend, counts per cohort,
 * and drift per version against its reference profile, each merged over the requested hours and
 * each behind the minimum-reports floor.
 */
export class TelemetryAnalysis {
  readonly #store: TelemetryStore;
  readonly #profiles: ProfileStore;
  readonly minReports: number;

  constructor(deps: { store: TelemetryStore; profiles: ProfileStore }, minReports = DEFAULT_MIN_REPORTS) {
    this.#store = deps.store;
    this.#profiles = deps.profiles;
    this.minReports = minReports;
  }

  async performance(app: string, filter: AggregateFilter): Promise<PerformanceEntry[]> {
    const groups = group(await this.#store.aggregates(app, filter), (r) => [r.model, r.version, r.backend]);
    return groups.map((rows) => {
      const { model, version, backend } = rows[0]!;
      return { model, version, backend, ...floored(sum(rows, (r) => r.reports), () => performanceOf(rows), this.minReports) };
    });
  }

  async cohorts(app: string, filter: AggregateFilter): Promise<CohortEntry[]> {
    const groups = group(await this.#store.aggregates(app, filter), (r) => [r.model, r.version, r.cohort]);
    return groups.map((rows) => {
      const { model, version, cohort } = rows[0]!;
      const value = () => {
        const { inferences, errors, errorRate, latencyMs } = performanceOf(rows);
        return { inferences, errors, errorRate, latencyMs };
      };
      return { model, version, cohort: parseCohortKey(cohort), ...floored(sum(rows, (r) => r.reports), value, this.minReports) };
    });
  }

  /** Drift per version (and per cohort with `byCohort`), from the summaries cut on the version's current profile. */
  async drift(app: string, filter: AggregateFilter & { byCohort?: boolean }): Promise<DriftEntry[]> {
    const records = await this.#store.summaryAggregates(app, filter);
    const versions = group(records, (r) => [r.model, r.version]);
    const entries: DriftEntry[] = [];
    for (const rows of versions) {
      const { model, version } = rows[0]!;
      const stored = await this.#profiles.get({ app, model, version });
      if (!stored) {
        entries.push({ model, version, profile: null, shown: false, minReports: this.minReports });
        continue;
      }
      const { profile } = stored;
      const current = rows.filter((r) => r.profile === profile.id);
      const parts = filter.byCohort ? group(current, (r) => [r.cohort]) : [current];
      for (const part of parts) {
        const aggregate = SummaryAggregate.empty(profile);
        for (const r of part) aggregate.merge(SummaryAggregate.fromJSON(r.aggregate, profile));
        const cohort = filter.byCohort ? { cohort: parseCohortKey(part[0]!.cohort) } : {};
        const value = () => {
          const { reports: _r, minReports: _m, ...drift } = analyzeDrift(profile, aggregate, { minReports: this.minReports });
          return { drift };
        };
        entries.push({ model, version, ...cohort, profile: profile.id, ...floored(aggregate.reports, value, this.minReports) });
      }
    }
    return entries;
  }
}

function performanceOf(rows: AggregateRecord[]): PerformanceStats {
  const latency = new LatencyHistogram();
  let first: LatencyHistogram | null = null;
  let load: LatencyHistogram | null = null;
  const errorsByKind: Record<string, number> = {};
  const events: Record<string, number> = {};
  for (const r of rows) {
    latency.merge(r.latencyMs);
    if (r.firstInferenceMs) first = (first ?? new LatencyHistogram()).merge(r.firstInferenceMs);
    if (r.loadMs) load = (load ?? new LatencyHistogram()).merge(r.loadMs);
    for (const [k, n] of Object.entries(r.errorKinds)) errorsByKind[k] = (errorsByKind[k] ?? 0) + n;
    for (const [k, n] of Object.entries(r.events)) events[k] = (events[k] ?? 0) + n;
  }
  const inferences = sum(rows, (r) => r.inferences);
  const errors = sum(rows, (r) => r.errors);
  return {
    inferences,
    errors,
    errorRate: inferences + errors === 0 ? 0 : errors / (inferences + errors),
    errorsByKind,
    events,
    latencyMs: quantiles(latency),
    firstInferenceMs: first && quantiles(first),
    loadMs: load && quantiles(load),
  };
}

/** No max: it is one device's single worst value, which the floor cannot hide. */
function quantiles(h: LatencyHistogram): Quantiles {
  return { p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99), p999: h.quantile(0.999) };
}

function sum<T>(rows: readonly T[], pick: (row: T) => number): number {
  return rows.reduce((total, row) => total + pick(row), 0);
}

/** Groups rows by key, keeping the first-seen order of keys. */
function group<T>(rows: readonly T[], key: (row: T) => unknown[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = JSON.stringify(key(row));
    const list = groups.get(k);
    if (list) list.push(row);
    else groups.set(k, [row]);
  }
  return [...groups.values()];
}
