import type { Sql } from '../db/database.js';

/** Every instance LISTENs here; the payload is the app whose manifest changed. */
export const CHANGES_CHANNEL = 'edgeloop_changes';

/**
 * Raises the app's manifest version and tells every instance, inside the caller's transaction:
 * PostgreSQL delivers the notification only if the change commits, and after it is visible.
 */
export async function bumpManifest(tx: Sql, app: string): Promise<void> {
  await tx.query('update apps set manifest_version = manifest_version + 1, manifest_issued_at = now() where name = $1', [app]);
  await tx.query('select pg_notify($1, $2)', [CHANGES_CHANNEL, app]);
}
