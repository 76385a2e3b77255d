import { ReleaseCell, type ReleaseCellJSON } from '@edgeloop/telemetry';
import type { Sql } from '../../db/database.js';
import type { CellKey } from '../cell-key.js';

/** One immutable release: a cell key's reports over whole hours [windowFrom, windowTo). */
export interface ReleaseRecord extends CellKey {
  id: number;
  windowFrom: Date;
  windowTo: Date;
  reports: number;
  cell: ReleaseCell;
  releasedAt: Date;
}

/** Which releases to read: those lying inside [from, to), optionally of one model or version. */
export interface ReleaseFilter {
  from?: Date;
  to?: Date;
  model?: string;
  version?: string;
}

interface ReleaseRow {
  id: number | string;
  app: string;
  model: string;
  version: string;
  backend: string;
  cohort: string;
  window_from: Date;
  window_to: Date;
  reports: number | string;
  cell: ReleaseCellJSON;
  released_at: Date;
}

/**
 * The releases of `app` that lie inside the filter's range, oldest first. A release is read whole
 * or not at all: a range that cuts through one leaves it out, so no query can isolate part of it.
 */
export async function readReleases(sql: Sql, app: string, filter: ReleaseFilter = {}): Promise<ReleaseRecord[]> {
  const rows = await sql.query<ReleaseRow>(
    `select * from telemetry_releases
     where app = $1 and ($2::timestamptz is null or window_from >= $2) and ($3::timestamptz is null or window_to <= $3)
       and ($4::text is null or model = $4) and ($5::text is null or version = $5)
     order by window_from, id`,
    [app, filter.from ?? null, filter.to ?? null, filter.model ?? null, filter.version ?? null],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    app: row.app,
    model: row.model,
    version: row.version,
    backend: row.backend,
    cohort: row.cohort,
    windowFrom: row.window_from,
    windowTo: row.window_to,
    reports: Number(row.reports),
    cell: ReleaseCell.fromJSON(row.cell),
    releasedAt: row.released_at,
  }));
}
