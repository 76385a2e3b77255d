import type { Migration } from './migrations.js';

/**
 * Device-level private telemetry (issue 12): schema-3 reports are merged into per-hour window rows
 * that are released once, immutably, when they hold enough reports; every view reads releases only.
 * The schema-2 aggregates (exact counts, latency histograms) cannot be turned into releases and are
 * dropped. Reference profiles gain the sha256 and length of their bytes, which the signed manifest
 * lists; telemetry configs (the signed privacy parameters) are kept append-only.
 */
export const releasesMigration: Migration = {
  id: 5,
  name: 'telemetry configs, windows, releases, signed profiles',
  sql: `
    drop table telemetry_aggregates;
    drop table telemetry_summaries;
    alter table reference_profiles add column sha256 text;
    alter table reference_profiles add column length bigint;
    update reference_profiles set sha256 = encode(sha256(convert_to(body, 'UTF8')), 'hex'), length = octet_length(body);
    alter table reference_profiles alter column sha256 set not null;
    alter table reference_profiles alter column length set not null;
    create index reference_profiles_sha256 on reference_profiles (sha256);
    create table telemetry_configs (
      seq bigserial primary key,
      app text not null references apps(name),
      id text not null,
      body jsonb not null,
      reason text not null,
      issued_at timestamptz not null
    );
    create index telemetry_configs_app on telemetry_configs (app, seq);
    create table telemetry_windows (
      app text not null, model text not null, version text not null, backend text not null, cohort text not null,
      window_start timestamptz not null,
      reports integer not null,
      cell jsonb not null,
      primary key (app, model, version, backend, cohort, window_start)
    );
    create index telemetry_windows_start on telemetry_windows (window_start);
    create table telemetry_releases (
      id bigserial primary key,
      app text not null, model text not null, version text not null, backend text not null, cohort text not null,
      window_from timestamptz not null,
      window_to timestamptz not null,
      reports integer not null,
      cell jsonb not null,
      released_at timestamptz not null
    );
    create index telemetry_releases_app on telemetry_releases (app, window_from, window_to)
  `,
  // Issued configs and releases are history: admission, the manifest and every view rely on them
  // never changing, so the database refuses it rather than a convention.
  statements: [
    `create function telemetry_append_only() returns trigger language plpgsql as $$
     begin raise exception '% is append-only', tg_table_name; end $$`,
    `create trigger telemetry_configs_append_only before update or delete on telemetry_configs
     for each row execute function telemetry_append_only()`,
    `create trigger telemetry_releases_append_only before update or delete on telemetry_releases
     for each row execute function telemetry_append_only()`,
  ],
};
