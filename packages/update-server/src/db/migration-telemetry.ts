import type { Migration } from './migrations.js';

/**
 * Telemetry by rollout cohort, feature summaries and reference profiles (issue 6). Aggregates gain
 * a `cohort` key (`''` where no rollout ran, so rows from before keep their meaning), runtime
 * latencies, error kinds and events; feature summaries are kept as SummaryAggregate JSON per
 * (app, model, version, cohort, window, profile); reference profiles are stored per model version.
 */
export const telemetryMigration: Migration = {
  id: 4,
  name: 'telemetry cohorts, summaries, reference profiles',
  // The report-id log only guards against replays (ingest has checked the app already); its
  // foreign key cost a trigger per report on the hot path.
  sql: `
    alter table telemetry_reports drop constraint telemetry_reports_app_fkey;
    alter table telemetry_aggregates add column cohort text not null default '';
    alter table telemetry_aggregates drop constraint telemetry_aggregates_pkey;
    alter table telemetry_aggregates add primary key (app, model, version, backend, cohort, window_start);
    alter table telemetry_aggregates add column load_ms jsonb;
    alter table telemetry_aggregates add column first_inference_ms jsonb;
    alter table telemetry_aggregates add column error_kinds jsonb not null default '{}';
    alter table telemetry_aggregates add column events jsonb not null default '{}';
    create index telemetry_reports_received_at on telemetry_reports (received_at);
    create table telemetry_summaries (
      app text not null, model text not null, version text not null, cohort text not null,
      window_start timestamptz not null, profile text not null,
      reports bigint not null, aggregate jsonb not null,
      primary key (app, model, version, cohort, window_start, profile)
    );
    create table reference_profiles (
      app text not null, model text not null, version text not null,
      profile_id text not null, body text not null, etag text not null,
      updated_at timestamptz not null default now(),
      primary key (app, model, version),
      foreign key (app, model, version) references model_versions(app, model, version)
    )
  `,
};
