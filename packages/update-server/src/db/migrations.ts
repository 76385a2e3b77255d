import type { Database } from './database.js';

/**
 * Ordered, append-only schema migrations. Never edit one that has shipped: add the next.
 * Each runs in its own transaction together with the bump of `schema_migrations`.
 */
export const migrations: ReadonlyArray<{ id: number; name: string; sql: string }> = [
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
];

export async function migrate(database: Database): Promise<void> {
  await database.query(`create table if not exists schema_migrations (
    id integer primary key, name text not null, applied_at timestamptz not null default now())`);
  const applied = new Set(
    (await database.query<{ id: number }>('select id from schema_migrations')).map((row) => row.id),
  );
  for (const migration of migrations) {
    if (applied.has(migration.id)) continue;
    await database.transaction(async (tx) => {
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
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
