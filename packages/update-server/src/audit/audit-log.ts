import type { Database, Sql } from '../db/database.js';

export interface AuditEntry {
  id: number;
  at: string;
  app: string;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  requestId: string | null;
}

export interface AuditInput {
  app: string;
  actor: string;
  action: string;
  target: string;
  before?: unknown;
  after?: unknown;
  requestId?: string | null;
}

interface AuditRow {
  id: number | string;
  at: Date;
  app: string;
  actor: string;
  action: string;
  target: string;
  before: unknown;
  after: unknown;
  request_id: string | null;
}

/**
 * Written in the same transaction as the change it describes, so the log and the state never
 * disagree. The table refuses UPDATE and DELETE (a trigger), so history cannot be rewritten.
 */
export async function recordAudit(tx: Sql, entry: AuditInput): Promise<void> {
  await tx.query(
    'insert into audit_log (app, actor, action, target, before, after, request_id) values ($1, $2, $3, $4, $5, $6, $7)',
    [entry.app, entry.actor, entry.action, entry.target, json(entry.before), json(entry.after), entry.requestId ?? null],
  );
}

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

/** Newest first, `limit` at a time; pass the smallest id seen as `before` for the next page. */
export async function readAudit(db: Database, app: string, options: { limit: number; before?: number }): Promise<AuditEntry[]> {
  const rows = await db.query<AuditRow>(
    'select * from audit_log where app = $1 and ($2::bigint is null or id < $2) order by id desc limit $3',
    [app, options.before ?? null, options.limit],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    at: row.at.toISOString(),
    app: row.app,
    actor: row.actor,
    action: row.action,
    target: row.target,
    before: row.before,
    after: row.after,
    requestId: row.request_id,
  }));
}
