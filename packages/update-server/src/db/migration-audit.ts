import type { Migration } from './migrations.js';

/**
 * The audit log refuses TRUNCATE too (migration 3 refused UPDATE and DELETE row by row, and a
 * statement-level TRUNCATE fires no row trigger). Works in PGlite and PostgreSQL alike. The
 * owner of the table could still drop the trigger: run the server as a role that does not own
 * the schema where that matters (docs/server.md).
 */
export const auditTruncateMigration: Migration = {
  id: 10,
  name: 'audit log refuses truncate',
  sql: '',
  statements: [
    `create trigger audit_log_no_truncate before truncate on audit_log
     for each statement execute function audit_log_append_only()`,
  ],
};
