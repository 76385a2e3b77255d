import { LatencyHistogram, type TelemetryReport } from '@edgeloop/telemetry';
import type { Database } from '../db/database.js';

/** Aggregates are kept per hour: small enough to see a regression the day it ships. */
const WINDOW_MS = 60 * 60 * 1000;

export interface IngestResult {
  /** False when the report id was seen before: a replay changes nothing. */
  accepted: boolean;
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

interface AggregateRow {
  model: string;
  version: string;
  backend: string;
  reports: number;
  inferences: number;
  errors: number;
  latency_ms: ReturnType<LatencyHistogram['toJSON']>;
}

/**
 * Telemetry aggregates per (app, model, version, backend, hour). A report is merged into them in
 * the same transaction that records its id, so a report is counted exactly once or not at all.
 */
export class TelemetryStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  async ingest(report: TelemetryReport, receivedAt = new Date()): Promise<IngestResult> {
    const windowStart = new Date(Math.floor(receivedAt.getTime() / WINDOW_MS) * WINDOW_MS);
    return this.#db.transaction(async (tx) => {
      const inserted = await tx.query(
        'insert into telemetry_reports (report_id, app, received_at) values ($1, $2, $3) on conflict do nothing returning 1',
        [report.reportId, report.app, receivedAt],
      );
      if (inserted.length === 0) return { accepted: false };
      for (const summary of report.models) {
        const key = [report.app, summary.model, summary.version, summary.backend, windowStart];
        const [existing] = await tx.query<AggregateRow>(
          `select * from telemetry_aggregates
           where app = $1 and model = $2 and version = $3 and backend = $4 and window_start = $5 for update`,
          key,
        );
        const latency = LatencyHistogram.fromJSON(summary.latencyMs);
        if (existing) {
          latency.merge(LatencyHistogram.fromJSON(existing.latency_ms));
          await tx.query(
            `update telemetry_aggregates set reports = reports + 1, inferences = inferences + $6, errors = errors + $7, latency_ms = $8
             where app = $1 and model = $2 and version = $3 and backend = $4 and window_start = $5`,
            [...key, summary.inferences, summary.errors, JSON.stringify(latency.toJSON())],
          );
        } else {
          await tx.query(
            `insert into telemetry_aggregates (app, model, version, backend, window_start, reports, inferences, errors, latency_ms)
             values ($1, $2, $3, $4, $5, 1, $6, $7, $8)`,
            [...key, summary.inferences, summary.errors, JSON.stringify(latency.toJSON())],
          );
        }
      }
      return { accepted: true };
    });
  }

  /** Counts and latency quantiles per model version and backend, merged over all windows. */
  async summary(app: string): Promise<VersionSummary[]> {
    const rows = await this.#db.query<AggregateRow>(
      'select * from telemetry_aggregates where app = $1 order by model, version, backend, window_start',
      [app],
    );
    const merged = new Map<string, { row: AggregateRow; latency: LatencyHistogram }>();
    for (const row of rows) {
      const key = JSON.stringify([row.model, row.version, row.backend]);
      const entry = merged.get(key);
      const latency = LatencyHistogram.fromJSON(row.latency_ms);
      if (!entry) {
        merged.set(key, { row: { ...row, reports: Number(row.reports), inferences: Number(row.inferences), errors: Number(row.errors) }, latency });
        continue;
      }
      entry.row.reports += Number(row.reports);
      entry.row.inferences += Number(row.inferences);
      entry.row.errors += Number(row.errors);
      entry.latency.merge(latency);
    }
    return [...merged.values()].map(({ row, latency }) => ({
      model: row.model,
      version: row.version,
      backend: row.backend,
      reports: row.reports,
      inferences: row.inferences,
      errors: row.errors,
      latencyMs: {
        count: latency.count,
        p50: latency.quantile(0.5),
        p90: latency.quantile(0.9),
        p99: latency.quantile(0.99),
        max: latency.max,
      },
    }));
  }
}
