import { LatencyHistogram, SummaryAggregate, type ModelSummary, type ReferenceProfile, type TelemetryReport } from '@edgeloop/telemetry';
import type { Database, Sql } from '../db/database.js';
import { cohortKey } from './cohort.js';

/** Aggregates are kept per hour: small enough to see a regression the day it ships. */
export const WINDOW_MS = 60 * 60 * 1000;

export interface IngestResult {
  /** False when the report id was seen before: a replay changes nothing. */
  accepted: boolean;
}

/**
 * One report ready to be written: its feature summaries (if any) were checked against `profiles[i]`,
 * the reference profile of `report.models[i]`'s version; summaries without one were removed.
 */
export interface IngestItem {
  report: TelemetryReport;
  profiles?: ReadonlyArray<ReferenceProfile | undefined>;
}

export interface VersionSummary {
  model: string;
  version: string;
  backend: string;
  reports: number;
  inferences: number;
  errors: number;
  latencyMs: { count: number; p50: number | null; p90: number | null; p99: number | null; max: number | null };
}

/** One stored hourly aggregate, as the analysis reads it. */
export interface AggregateRecord {
  model: string;
  version: string;
  backend: string;
  cohort: string;
  windowStart: Date;
  reports: number;
  inferences: number;
  errors: number;
  latencyMs: LatencyHistogram;
  loadMs: LatencyHistogram | null;
  firstInferenceMs: LatencyHistogram | null;
  errorKinds: Record<string, number>;
  events: Record<string, number>;
}

/** One stored hourly feature-summary aggregate (SummaryAggregate JSON, checked when read against a profile). */
export interface SummaryRecord {
  model: string;
  version: string;
  cohort: string;
  windowStart: Date;
  profile: string;
  reports: number;
  aggregate: ReturnType<SummaryAggregate['toJSON']>;
}

/** Which aggregates to read: whole hours in [from, to), optionally one model or version. */
export interface AggregateFilter {
  model?: string;
  version?: string;
  from?: Date;
  to?: Date;
}

interface AggregateRow {
  model: string;
  version: string;
  backend: string;
  cohort: string;
  window_start: Date;
  reports: number | string;
  inferences: number | string;
  errors: number | string;
  latency_ms: ReturnType<LatencyHistogram['toJSON']>;
  load_ms: ReturnType<LatencyHistogram['toJSON']> | null;
  first_inference_ms: ReturnType<LatencyHistogram['toJSON']> | null;
  error_kinds: Record<string, number>;
  events: Record<string, number>;
}

/** What a batch adds to one (app, model, version, backend, cohort, window) row. */
interface Delta {
  key: [string, string, string, string, string, Date];
  reports: number;
  inferences: number;
  errors: number;
  latency: LatencyHistogram;
  load: LatencyHistogram | null;
  first: LatencyHistogram | null;
  errorKinds: Record<string, number>;
  events: Record<string, number>;
}

interface SummaryDelta {
  key: [string, string, string, string, Date, string];
  aggregate: SummaryAggregate;
  profile: ReferenceProfile;
}

/** The hour a report belongs to: the one its device sealed it in (`sentAt`), checked by ingest to be recent. */
export function windowOf(report: TelemetryReport): Date {
  return new Date(Math.floor(Date.parse(report.sentAt) / WINDOW_MS) * WINDOW_MS);
}

/**
 * Telemetry aggregates per (app, model, version, backend, cohort, hour) and feature summaries per
 * (app, model, version, cohort, hour, profile). A batch of reports is merged in one transaction
 * together with their ids, so each report is counted exactly once or not at all, and a replayed
 * id (also within one batch) changes nothing.
 */
export class TelemetryStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Writes one report (see {@link ingestBatch}). */
  async ingest(report: TelemetryReport, receivedAt = new Date()): Promise<IngestResult> {
    const [result] = await this.ingestBatch([{ report }], receivedAt);
    return result!;
  }

  /** Writes many reports, received at `receivedAt`, in one transaction; answers per item, in order. */
  async ingestBatch(items: readonly IngestItem[], receivedAt = new Date()): Promise<IngestResult[]> {
    if (items.length === 0) return [];
    return this.#db.transaction(async (tx) => {
      // One receipt time per batch: a timestamptz[] parameter costs more to encode and parse than the rows.
      const inserted = await tx.query<{ report_id: string }>(
        `insert into telemetry_reports (report_id, app, received_at)
         select id, app, $3 from unnest($1::uuid[], $2::text[]) as r(id, app) on conflict do nothing returning report_id`,
        [items.map((i) => i.report.reportId), items.map((i) => i.report.app), receivedAt],
      );
      // A report id may appear twice in one batch: only its first occurrence counts.
      const fresh = new Set(inserted.map((row) => row.report_id.toLowerCase()));
      const results = items.map((item) => {
        const id = item.report.reportId.toLowerCase();
        const accepted = fresh.delete(id);
        return { accepted };
      });
      const deltas = new Map<string, Delta>();
      const summaries = new Map<string, SummaryDelta>();
      items.forEach((item, i) => {
        if (results[i]!.accepted) collect(item, deltas, summaries);
      });
      for (const delta of deltas.values()) await writeDelta(tx, delta);
      for (const delta of summaries.values()) await writeSummaryDelta(tx, delta);
      return results;
    });
  }

  /** Counts and latency quantiles per model version and backend, merged over all windows and cohorts. */
  async summary(app: string): Promise<VersionSummary[]> {
    const merged = new Map<string, { row: Omit<VersionSummary, 'latencyMs'>; latency: LatencyHistogram }>();
    for (const record of await this.aggregates(app)) {
      const key = JSON.stringify([record.model, record.version, record.backend]);
      const entry = merged.get(key);
      if (!entry) {
        const { model, version, backend, reports, inferences, errors } = record;
        merged.set(key, { row: { model, version, backend, reports, inferences, errors }, latency: record.latencyMs });
        continue;
      }
      entry.row.reports += record.reports;
      entry.row.inferences += record.inferences;
      entry.row.errors += record.errors;
      entry.latency.merge(record.latencyMs);
    }
    return [...merged.values()].map(({ row, latency }) => ({
      ...row,
      latencyMs: { count: latency.count, p50: latency.quantile(0.5), p90: latency.quantile(0.9), p99: latency.quantile(0.99), max: latency.max },
    }));
  }

  /** Stored hourly aggregates of `app`, oldest window first. */
  async aggregates(app: string, filter: AggregateFilter = {}): Promise<AggregateRecord[]> {
    const rows = await this.#db.query<AggregateRow>(
      `select * from telemetry_aggregates where app = $1 ${filterSql(filter, 2)}
       order by model, version, backend, cohort, window_start`,
      [app, ...filterParams(filter)],
    );
    return rows.map((row) => ({
      model: row.model,
      version: row.version,
      backend: row.backend,
      cohort: row.cohort,
      windowStart: row.window_start,
      reports: Number(row.reports),
      inferences: Number(row.inferences),
      errors: Number(row.errors),
      latencyMs: LatencyHistogram.fromJSON(row.latency_ms),
      loadMs: row.load_ms === null ? null : LatencyHistogram.fromJSON(row.load_ms),
      firstInferenceMs: row.first_inference_ms === null ? null : LatencyHistogram.fromJSON(row.first_inference_ms),
      errorKinds: row.error_kinds,
      events: row.events,
    }));
  }

  /** Stored hourly feature-summary aggregates of `app`. */
  async summaryAggregates(app: string, filter: AggregateFilter = {}): Promise<SummaryRecord[]> {
    const rows = await this.#db.query<{
      model: string; version: string; cohort: string; window_start: Date; profile: string; reports: number | string; aggregate: SummaryRecord['aggregate'];
    }>(
      `select * from telemetry_summaries where app = $1 ${filterSql(filter, 2)} order by model, version, cohort, window_start`,
      [app, ...filterParams(filter)],
    );
    return rows.map((row) => ({
      model: row.model,
      version: row.version,
      cohort: row.cohort,
      windowStart: row.window_start,
      profile: row.profile,
      reports: Number(row.reports),
      aggregate: row.aggregate,
    }));
  }

  /**
   * Forgets report ids received before `before`. Safe once `before` is older than the accepted
   * `sentAt` window: a replay of such a report is refused for its age before its id is looked up.
   */
  async pruneReportIds(before: Date): Promise<number> {
    const rows = await this.#db.query('delete from telemetry_reports where received_at < $1 returning 1', [before]);
    return rows.length;
  }
}

function filterSql(filter: AggregateFilter, first: number): string {
  const parts: string[] = [];
  let n = first;
  if (filter.model !== undefined) parts.push(`and model = $${n++}`);
  if (filter.version !== undefined) parts.push(`and version = $${n++}`);
  if (filter.from !== undefined) parts.push(`and window_start >= $${n++}`);
  if (filter.to !== undefined) parts.push(`and window_start < $${n++}`);
  return parts.join(' ');
}

function filterParams(filter: AggregateFilter): unknown[] {
  return [filter.model, filter.version, filter.from, filter.to].filter((value) => value !== undefined);
}

function collect(item: IngestItem, deltas: Map<string, Delta>, summaries: Map<string, SummaryDelta>): void {
  const { report } = item;
  const windowStart = windowOf(report);
  report.models.forEach((summary: ModelSummary, i) => {
    const cohort = cohortKey(summary.cohort);
    const key: Delta['key'] = [report.app, summary.model, summary.version, summary.backend, cohort, windowStart];
    const id = JSON.stringify(key);
    let delta = deltas.get(id);
    if (!delta) {
      delta = { key, reports: 0, inferences: 0, errors: 0, latency: new LatencyHistogram(), load: null, first: null, errorKinds: {}, events: {} };
      deltas.set(id, delta);
    }
    delta.reports += 1;
    delta.inferences += summary.inferences;
    delta.errors += summary.errors;
    // parseReport checked every histogram: merge their JSON directly.
    delta.latency.mergeJSON(summary.latencyMs);
    if (summary.loadMs) delta.load = (delta.load ?? new LatencyHistogram()).mergeJSON(summary.loadMs);
    if (summary.firstInferenceMs) delta.first = (delta.first ?? new LatencyHistogram()).mergeJSON(summary.firstInferenceMs);
    addCounts(delta.errorKinds, summary.errorKinds);
    addCounts(delta.events, summary.events);

    const profile = item.profiles?.[i];
    if (summary.summaries === undefined || profile === undefined) return;
    const skey: SummaryDelta['key'] = [report.app, summary.model, summary.version, cohort, windowStart, profile.id];
    const sid = JSON.stringify(skey);
    let sdelta = summaries.get(sid);
    if (!sdelta) summaries.set(sid, (sdelta = { key: skey, aggregate: SummaryAggregate.empty(profile), profile }));
    sdelta.aggregate.add(summary.summaries);
  });
}

function mergeInto(target: LatencyHistogram | null, source: LatencyHistogram): LatencyHistogram {
  if (target === null) return source;
  return target.merge(source);
}

function addCounts(target: Record<string, number>, source: Record<string, number> | undefined | null): Record<string, number> {
  for (const [kind, count] of Object.entries(source ?? {})) target[kind] = (target[kind] ?? 0) + count;
  return target;
}

const ROW_KEY = 'app = $1 and model = $2 and version = $3 and backend = $4 and cohort = $5 and window_start = $6';

async function writeDelta(tx: Sql, delta: Delta): Promise<void> {
  // Lock the row first; if it does not exist yet, create it empty (another instance may race us
  // to it: `on conflict do nothing` lets both go on to the locked read-merge-write below).
  let [row] = await tx.query<AggregateRow>(`select * from telemetry_aggregates where ${ROW_KEY} for update`, delta.key);
  if (!row) {
    await tx.query(
      `insert into telemetry_aggregates (app, model, version, backend, cohort, window_start, reports, inferences, errors, latency_ms)
       values ($1, $2, $3, $4, $5, $6, 0, 0, 0, $7) on conflict do nothing`,
      [...delta.key, JSON.stringify(new LatencyHistogram().toJSON())],
    );
    [row] = await tx.query<AggregateRow>(`select * from telemetry_aggregates where ${ROW_KEY} for update`, delta.key);
  }
  const latency = delta.latency.merge(LatencyHistogram.fromJSON(row!.latency_ms));
  const load = row!.load_ms === null ? delta.load : mergeInto(delta.load, LatencyHistogram.fromJSON(row!.load_ms));
  const first = row!.first_inference_ms === null ? delta.first : mergeInto(delta.first, LatencyHistogram.fromJSON(row!.first_inference_ms));
  await tx.query(
    `update telemetry_aggregates set reports = reports + $7, inferences = inferences + $8, errors = errors + $9,
       latency_ms = $10, load_ms = $11, first_inference_ms = $12, error_kinds = $13, events = $14
     where ${ROW_KEY}`,
    [
      ...delta.key,
      delta.reports,
      delta.inferences,
      delta.errors,
      JSON.stringify(latency.toJSON()),
      load === null ? null : JSON.stringify(load.toJSON()),
      first === null ? null : JSON.stringify(first.toJSON()),
      JSON.stringify(addCounts({ ...row!.error_kinds }, delta.errorKinds)),
      JSON.stringify(addCounts({ ...row!.events }, delta.events)),
    ],
  );
}

const SUMMARY_KEY = 'app = $1 and model = $2 and version = $3 and cohort = $4 and window_start = $5 and profile = $6';

async function writeSummaryDelta(tx: Sql, delta: SummaryDelta): Promise<void> {
  let [row] = await tx.query<{ aggregate: SummaryRecord['aggregate'] }>(
    `select aggregate from telemetry_summaries where ${SUMMARY_KEY} for update`,
    delta.key,
  );
  if (!row) {
    const empty = SummaryAggregate.empty(delta.profile).toJSON();
    await tx.query(
      `insert into telemetry_summaries (app, model, version, cohort, window_start, profile, reports, aggregate)
       values ($1, $2, $3, $4, $5, $6, 0, $7) on conflict do nothing`,
      [...delta.key, JSON.stringify(empty)],
    );
    [row] = await tx.query<{ aggregate: SummaryRecord['aggregate'] }>(`select aggregate from telemetry_summaries where ${SUMMARY_KEY} for update`, delta.key);
  }
  const merged = delta.aggregate.merge(SummaryAggregate.fromJSON(row!.aggregate, delta.profile));
  await tx.query(`update telemetry_summaries set reports = $7, aggregate = $8 where ${SUMMARY_KEY}`, [
    ...delta.key,
    merged.reports,
    JSON.stringify(merged.toJSON()),
  ]);
}
