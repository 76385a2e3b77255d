import { analyzeDrift, ReleaseCell, type ReportCohort, type VersionDrift } from '@edgeloop/telemetry';
import type { Database } from '../../db/database.js';
import { parseStoredProfile, resolveProfiles, versionKey } from '../../profiles/profile-store.js';
import { parseCohortKey } from '../cell-key.js';
import { readReleases, type ReleaseFilter, type ReleaseRecord } from '../releases/release-store.js';
import { healthNumbers, type HealthNumbers } from './numbers.js';

/** The whole hours a view entry's releases span: [from, to). */
export interface Span {
  from: string;
  to: string;
}

export type PerformanceEntry = { model: string; version: string; backend: string; span: Span } & HealthNumbers;
export type CohortEntry = { model: string; version: string; cohort: ReportCohort | null; span: Span } & HealthNumbers;
export interface DriftEntry {
  model: string;
  version: string;
  cohort?: ReportCohort | null;
  span: Span;
  reports: number;
  /** The version's current reference profile (own or inherited); null when it has none. */
  profile: string | null;
  drift: Omit<VersionDrift, 'reports' | 'minReports'> | null;
}
export type SummaryEntry = { model: string; version: string; backend: string } & Pick<HealthNumbers, 'reports' | 'errored' | 'latencyP50Ms' | 'latencyP95Ms' | 'inferences'>;
export interface ReleaseEntry {
  id: number;
  model: string;
  version: string;
  backend: string;
  cohort: ReportCohort | null;
  windowFrom: string;
  windowTo: string;
  reports: number;
  releasedAt: string;
}

/**
 * Every telemetry view, computed from releases only. A view over [from, to) sums the releases that
 * lie inside it, whole; every release holds at least the floor of reports, and a group whose sum
 * is below the floor (possible only with releases made under a lower demo floor) does not exist in
 * the answer: no row, no count, no backend or cohort name. Differencing two ranges, or two views,
 * yields a sum of whole releases, never a part of one.
 */
export class TelemetryViews {
  readonly #db: Database;
  readonly minReports: number;

  constructor(options: { db: Database; minReports: number }) {
    this.#db = options.db;
    this.minReports = options.minReports;
  }

  /** Per (model, version, backend), over every cohort. */
  async performance(app: string, filter: ReleaseFilter): Promise<PerformanceEntry[]> {
    return this.#groups(await readReleases(this.#db, app, filter), (r) => [r.model, r.version, r.backend]).map(({ first, cell, span }) => ({
      model: first.model,
      version: first.version,
      backend: first.backend,
      span,
      ...healthNumbers(cell),
    }));
  }

  /** Per (model, version, cohort), over every backend: what the rollout gate compares. */
  async cohorts(app: string, filter: ReleaseFilter): Promise<CohortEntry[]> {
    return this.#groups(await readReleases(this.#db, app, filter), (r) => [r.model, r.version, r.cohort]).map(({ first, cell, span }) => ({
      model: first.model,
      version: first.version,
      cohort: parseCohortKey(first.cohort),
      span,
      ...healthNumbers(cell),
    }));
  }

  /** Per version (and per cohort with `byCohort`), the drift of its summaries from its current reference profile. */
  async drift(app: string, filter: ReleaseFilter & { byCohort?: boolean }): Promise<DriftEntry[]> {
    const releases = await readReleases(this.#db, app, filter);
    const profiles = await resolveProfiles(this.#db, app);
    const groups = this.#groups(releases, (r) => (filter.byCohort ? [r.model, r.version, r.cohort] : [r.model, r.version]));
    return groups.map(({ first, cell, span }) => {
      const resolved = profiles.get(versionKey(first.model, first.version));
      const base = { model: first.model, version: first.version, ...(filter.byCohort && { cohort: parseCohortKey(first.cohort) }), span, reports: cell.reports };
      if (!resolved) return { ...base, profile: null, drift: null };
      const profile = parseStoredProfile(resolved);
      const { reports: _r, minReports: _m, ...drift } = analyzeDrift(profile, cell.summaryGroups(profile.id), cell.reports, { minReports: this.minReports });
      return { ...base, profile: profile.id, drift };
    });
  }

  /** Per (model, version, backend) over every release of the app. */
  async summary(app: string): Promise<SummaryEntry[]> {
    return this.#groups(await readReleases(this.#db, app), (r) => [r.model, r.version, r.backend]).map(({ first, cell }) => {
      const { reports, errored, latencyP50Ms, latencyP95Ms, inferences } = healthNumbers(cell);
      return { model: first.model, version: first.version, backend: first.backend, reports, errored, latencyP50Ms, latencyP95Ms, inferences };
    });
  }

  /** The releases inside the range: keys, hours and report counts (each at least the floor). */
  async releases(app: string, filter: ReleaseFilter): Promise<ReleaseEntry[]> {
    return (await readReleases(this.#db, app, filter))
      .filter((r) => r.reports >= this.minReports)
      .map((r) => ({
        id: r.id,
        model: r.model,
        version: r.version,
        backend: r.backend,
        cohort: parseCohortKey(r.cohort),
        windowFrom: r.windowFrom.toISOString(),
        windowTo: r.windowTo.toISOString(),
        reports: r.reports,
        releasedAt: r.releasedAt.toISOString(),
      }));
  }

  /** Merges releases by key, in first-seen order of the sorted keys, and keeps only groups at or above the floor. */
  #groups(releases: readonly ReleaseRecord[], key: (r: ReleaseRecord) => string[]): Array<{ first: ReleaseRecord; cell: ReleaseCell; span: Span }> {
    const groups = new Map<string, { first: ReleaseRecord; cell: ReleaseCell; from: number; to: number }>();
    for (const release of releases) {
      const id = key(release).join('\u0000');
      const group = groups.get(id);
      if (!group) {
        groups.set(id, { first: release, cell: new ReleaseCell().merge(release.cell), from: release.windowFrom.getTime(), to: release.windowTo.getTime() });
        continue;
      }
      group.cell.merge(release.cell);
      group.from = Math.min(group.from, release.windowFrom.getTime());
      group.to = Math.max(group.to, release.windowTo.getTime());
    }
    return [...groups.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, g]) => g)
      .filter((g) => g.cell.reports >= this.minReports)
      .map(({ first, cell, from, to }) => ({ first, cell, span: { from: new Date(from).toISOString(), to: new Date(to).toISOString() } }));
  }
}
