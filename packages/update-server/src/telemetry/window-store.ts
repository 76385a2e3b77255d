import { ReleaseCell, type ReleaseCellJSON, type TelemetryConfig, type TelemetryReport } from '@edgeloop/telemetry';
import type { Database, Sql } from '../db/database.js';
import { cellKeyOf, cellKeyString, type CellKey } from './cell-key.js';

/** Reports are filed per hour of arrival. */
export const WINDOW_MS = 3_600_000;
/** An hour is closed (released, never written again) this long after it ends. */
export const GRACE_MS = 2 * 60_000;

/** How reports are windowed: filed per window of arrival, a window closed `graceMs` after it ends. */
export interface WindowTiming {
  windowMs: number;
  graceMs: number;
}

/** Hourly windows closed 2 minutes after they end: always, except on a local demo (telemetry/window-timing.ts). */
export const HOURLY: WindowTiming = Object.freeze({ windowMs: WINDOW_MS, graceMs: GRACE_MS });

export interface IngestResult {
  /** False when the report id was seen before: a replay changes nothing. */
  accepted: boolean;
}

/** One admitted report, ready to be written. */
export interface IngestItem {
  report: TelemetryReport;
  /** The config it was made under (admission found it). */
  config: TelemetryConfig;
  /** Per entry: the cells per feature of its summary's profile when the summary counts (the version's current profile). */
  profileCells: ReadonlyArray<readonly number[] | undefined>;
  /** Server clock when the request arrived, ms: the report is filed in that hour. */
  arrivedAt: number;
}

interface Delta {
  key: CellKey;
  windowStart: number;
  cell: ReleaseCell;
}

/**
 * The write side of ingest: per (cell key, arrival hour) a row in `telemetry_windows` holding a
 * `ReleaseCell`, and the ids of the reports in it (`telemetry_reports`), written in one transaction
 * per batch, so each report counts exactly once or not at all and a replayed id (also twice in one
 * batch) changes nothing. Rows are read-merged-written under their row lock, taken in one order
 * (cell key, hour) by every writer, so concurrent instances neither lose counts nor deadlock.
 */
export class WindowStore {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #timing: WindowTiming;

  constructor(db: Database, options: { now?: () => number; timing?: WindowTiming } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#timing = options.timing ?? HOURLY;
  }

  async write(items: readonly IngestItem[]): Promise<IngestResult[]> {
    if (items.length === 0) return [];
    return this.#db.transaction(async (tx) => {
      const now = this.#now();
      const inserted = await tx.query<{ report_id: string }>(
        `insert into telemetry_reports (report_id, app, received_at)
         select id, app, $3 from unnest($1::uuid[], $2::text[]) as r(id, app) on conflict do nothing returning report_id`,
        [items.map((i) => i.report.reportId), items.map((i) => i.report.app), new Date(now)],
      );
      const fresh = new Set(inserted.map((row) => row.report_id.toLowerCase()));
      const results = items.map((item) => ({ accepted: fresh.delete(item.report.reportId.toLowerCase()) }));
      const deltas = new Map<string, Delta>();
      items.forEach((item, i) => {
        if (!results[i]!.accepted) return;
        const windowStart = fileHour(item.arrivedAt, now, this.#timing);
        const entries = item.report.models.length;
        item.report.models.forEach((entry, e) => {
          const key = cellKeyOf(item.report.app, entry);
          const id = `${cellKeyString(key)}\u0000${windowStart}`;
          let delta = deltas.get(id);
          if (!delta) deltas.set(id, (delta = { key, windowStart, cell: new ReleaseCell() }));
          delta.cell.add(entry, item.config, entries, item.profileCells[e]);
        });
      });
      const ordered = [...deltas.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [, delta] of ordered) await mergeRow(tx, delta);
      return results;
    });
  }

  /** Forgets report ids received before `before`: older reports are refused for their period before their id is looked up. */
  async pruneReportIds(before: Date): Promise<number> {
    return (await this.#db.query('delete from telemetry_reports where received_at < $1 returning 1', [before])).length;
  }
}

/**
 * The hour (window) a report is filed in: the one it arrived in (server clock, never anything the
 * device says), unless that window closed while the report waited for its write; then the current
 * one, so a closed (released) window never changes.
 */
export function fileHour(arrivedAt: number, now: number, timing: WindowTiming = HOURLY): number {
  const { windowMs, graceMs } = timing;
  const arrived = Math.floor(arrivedAt / windowMs) * windowMs;
  return arrived + windowMs + graceMs <= now ? Math.floor(now / windowMs) * windowMs : arrived;
}

const ROW = 'app = $1 and model = $2 and version = $3 and backend = $4 and cohort = $5 and window_start = $6';

async function mergeRow(tx: Sql, delta: Delta): Promise<void> {
  const { app, model, version, backend, cohort } = delta.key;
  const params = [app, model, version, backend, cohort, new Date(delta.windowStart)];
  const select = () => tx.query<{ cell: ReleaseCellJSON }>(`select cell from telemetry_windows where ${ROW} for update`, params);
  let [row] = await select();
  if (!row) {
    const created = await tx.query(
      `insert into telemetry_windows (app, model, version, backend, cohort, window_start, reports, cell)
       values ($1, $2, $3, $4, $5, $6, $7, $8) on conflict do nothing returning 1`,
      [...params, delta.cell.reports, JSON.stringify(delta.cell.toJSON())],
    );
    if (created.length > 0) return;
    // Another instance created the row meanwhile: merge into it under its lock.
    [row] = await select();
  }
  const merged = ReleaseCell.fromJSON(row!.cell).merge(delta.cell);
  await tx.query(`update telemetry_windows set reports = $7, cell = $8 where ${ROW}`, [...params, merged.reports, JSON.stringify(merged.toJSON())]);
}
