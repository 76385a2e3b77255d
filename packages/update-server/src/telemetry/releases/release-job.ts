import { ReleaseCell, type ReleaseCellJSON } from '@edgeloop/telemetry';
import type { Database } from '../../db/database.js';
import { cellKeyString, type CellKey } from '../cell-key.js';
import { HOURLY, type WindowTiming } from '../window-store.js';

/** Unreleased window rows older than this are dropped: they never reached the floor. */
export const UNRELEASED_TTL_MS = 7 * 86_400_000;

/** Instances releasing at once take turns on this advisory lock (any constant shared by all instances). */
const RELEASE_LOCK = 0x0ed6e112;

export interface ReleaseRun {
  /** Releases written. */
  released: number;
  /** Window rows that wait for more reports (carried forward). */
  held: number;
  /** Window rows dropped unreleased after {@link UNRELEASED_TTL_MS}. */
  dropped: number;
}

interface WindowRow {
  app: string;
  model: string;
  version: string;
  backend: string;
  cohort: string;
  window_start: Date;
  reports: number | string;
  cell: ReleaseCellJSON;
}

/**
 * Releases closed hours, once. An hour is closed `GRACE_MS` after it ends. Per cell key, all its
 * unreleased closed window rows are released together, as one immutable `telemetry_releases` row
 * spanning them, if they hold at least `minReports` reports; otherwise they wait for later hours
 * (carried forward, never shown) and are dropped after {@link UNRELEASED_TTL_MS}.
 *
 * Exactly once, also with several instances on one PostgreSQL: the run holds an advisory lock, reads
 * the rows under their row locks, and inserts each release in the same transaction that deletes
 * the rows it holds, so a second run finds nothing left to release.
 */
export async function releaseClosedWindows(db: Database, options: { now: Date; minReports: number; timing?: WindowTiming }): Promise<ReleaseRun> {
  const now = options.now.getTime();
  const { windowMs, graceMs } = options.timing ?? HOURLY;
  const closedFrom = new Date(now - graceMs - windowMs); // window_start ≤ this: the window ended ≥ grace ago
  const expired = now - UNRELEASED_TTL_MS;
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [RELEASE_LOCK]);
    const rows = await tx.query<WindowRow>(
      `select app, model, version, backend, cohort, window_start, reports, cell from telemetry_windows
       where window_start <= $1 order by app, model, version, backend, cohort, window_start for update`,
      [closedFrom],
    );
    const byKey = new Map<string, { key: CellKey; rows: WindowRow[] }>();
    for (const row of rows) {
      const key: CellKey = { app: row.app, model: row.model, version: row.version, backend: row.backend, cohort: row.cohort };
      const id = cellKeyString(key);
      let group = byKey.get(id);
      if (!group) byKey.set(id, (group = { key, rows: [] }));
      group.rows.push(row);
    }
    const run: ReleaseRun = { released: 0, held: 0, dropped: 0 };
    for (const { key, rows: group } of byKey.values()) {
      const reports = group.reduce((total, row) => total + Number(row.reports), 0);
      const keyParams = [key.app, key.model, key.version, key.backend, key.cohort];
      if (reports >= options.minReports) {
        const cell = new ReleaseCell();
        for (const row of group) cell.merge(ReleaseCell.fromJSON(row.cell));
        const from = group[0]!.window_start;
        const to = new Date(group[group.length - 1]!.window_start.getTime() + windowMs);
        await tx.query(
          `insert into telemetry_releases (app, model, version, backend, cohort, window_from, window_to, reports, cell, released_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          [...keyParams, from, to, cell.reports, JSON.stringify(cell.toJSON()), options.now],
        );
        await deleteRows(tx, keyParams, group);
        run.released += 1;
        continue;
      }
      const stale = group.filter((row) => row.window_start.getTime() < expired);
      if (stale.length > 0) await deleteRows(tx, keyParams, stale);
      run.dropped += stale.length;
      run.held += group.length - stale.length;
    }
    return run;
  });
}

/** Deletes exactly the rows read (never "everything closed"): a row created since is released later, not lost. */
async function deleteRows(tx: { query(text: string, params?: unknown[]): Promise<unknown[]> }, keyParams: string[], rows: readonly WindowRow[]): Promise<void> {
  await tx.query(
    `delete from telemetry_windows where app = $1 and model = $2 and version = $3 and backend = $4 and cohort = $5 and window_start = any($6::timestamptz[])`,
    [...keyParams, rows.map((row) => row.window_start)],
  );
}
