import type { Database } from './database.js';
import { auditTruncateMigration } from './migration-audit.js';
import { blobStoreMigration } from './migration-blob-store.js';
import { gateMigration } from './migration-gate.js';
import { registryMigration } from './migration-registry.js';
import { telemetryMigration } from './migration-telemetry.js';
import { releasesMigration } from './migration-releases.js';
import { healthMigration } from './migration-health.js';

/** `statements` is for SQL that holds `;` inside (function bodies): given pre-split, run as listed. */
export interface Migration {
  id: number;
  name: string;
  sql: string;
  statements?: readonly string[];
}

/** Any constant works: it only has to be the same for every instance migrating one database. */
const MIGRATION_LOCK = 0x0ed6e100;

/**
 * Ordered, append-only schema migrations. Never edit one that has shipped: add the next.
 * Each runs in its own transaction together with the bump of `schema_migrations`.
 */
export const migrations: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: 'registry and telemetry',
    sql: `
      create table apps (
        name text primary key,
        manifest_version bigint not null default 0,
        created_at timestamptz not null default now()
      );
      create table models (
        app text not null references apps(name),
        name text not null,
        created_at timestamptz not null default now(),
        primary key (app, name)
      );
      create table model_versions (
        app text not null,
        model text not null,
        version text not null,
        seq bigint not null,
        format text not null,
        sha256 text not null,
        size bigint not null,
        signature jsonb not null,
        created_at timestamptz not null default now(),
        primary key (app, model, version),
        unique (app, model, seq),
        foreign key (app, model) references models(app, name)
      );
      create table telemetry_reports (
        report_id uuid primary key,
        app text not null references apps(name),
        received_at timestamptz not null default now()
      );
      create table telemetry_aggregates (
        app text not null,
        model text not null,
        version text not null,
        backend text not null,
        window_start timestamptz not null,
        reports bigint not null,
        inferences bigint not null,
        errors bigint not null,
        latency_ms jsonb not null,
        primary key (app, model, version, backend, window_start)
      );
    `,
  },
  {
    id: 2,
    name: 'manifest issue time',
    // Signed manifests carry issuedAt/expires; taking them from the database (not the clock of the
    // instance that builds the manifest) makes every instance sign byte-identical content.
    sql: `alter table apps add column manifest_issued_at timestamptz not null default now()`,
  },
  registryMigration,
  telemetryMigration,
  releasesMigration,
  gateMigration,
  auditTruncateMigration,
  blobStoreMigration,
  healthMigration,
];

export async function migrate(database: Database): Promise<void> {
  // Several instances may start at once on one PostgreSQL: the advisory lock makes them take turns,
  // and each re-reads what is applied under the lock.
  await database.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(`create table if not exists schema_migrations (
      id integer primary key, name text not null, applied_at timestamptz not null default now())`);
  });
  for (const migration of migrations) {
    await database.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      const done = await tx.query('select 1 from schema_migrations where id = $1', [migration.id]);
      if (done.length > 0) return;
      for (const statement of [...splitStatements(migration.sql), ...(migration.statements ?? [])]) await tx.query(statement);
      await tx.query('insert into schema_migrations (id, name) values ($1, $2)', [migration.id, migration.name]);
    });
  }
}

/** Extended-protocol queries take one statement each; our migrations hold no `;` inside literals. */
function splitStatements(sql: string): string[] {
  return sql
    .split(';')
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}
