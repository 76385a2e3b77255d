import type { Migration } from './migrations.js';

/**
 * Registry, channels, rollouts, tokens and audit (issue 5). Existing versions become the `default`
 * variant with one `model` file, and each model's newest version becomes its `stable` channel, so
 * a data directory from before serves the same manifest after the upgrade.
 */
export const registryMigration: Migration = {
  id: 3,
  name: 'variants, channels, rollouts, tokens, audit',
  sql: `
    alter table model_versions add column notes text not null default '';
    alter table model_versions add column publisher text not null default '';
    create table variants (
      app text not null, model text not null, version text not null, variant text not null,
      format text not null, backend text, precision text,
      created_at timestamptz not null default now(),
      primary key (app, model, version, variant),
      foreign key (app, model, version) references model_versions(app, model, version)
    );
    create table variant_files (
      app text not null, model text not null, version text not null, variant text not null, role text not null,
      sha256 text not null, size bigint not null, signature jsonb,
      primary key (app, model, version, variant, role),
      foreign key (app, model, version, variant) references variants(app, model, version, variant)
    );
    create index variant_files_sha256 on variant_files (sha256);
    insert into variants (app, model, version, variant, format, created_at)
      select app, model, version, 'default', format, created_at from model_versions;
    insert into variant_files (app, model, version, variant, role, sha256, size, signature)
      select app, model, version, 'default', 'model', sha256, size, signature from model_versions;
    create table blobs (sha256 text primary key, size bigint not null, created_at timestamptz not null default now());
    insert into blobs (sha256, size) select distinct on (sha256) sha256, size from model_versions order by sha256;
    create table channels (
      app text not null, model text not null, name text not null, version text not null,
      rules jsonb not null default '[]', pinned boolean not null default false,
      updated_at timestamptz not null default now(),
      primary key (app, model, name),
      foreign key (app, model, version) references model_versions(app, model, version)
    );
    insert into channels (app, model, name, version)
      select distinct on (app, model) app, model, 'stable', version from model_versions order by app, model, seq desc;
    create table rollouts (
      id text primary key, app text not null, model text not null, channel text not null,
      from_version text not null, to_version text not null, salt text not null,
      steps jsonb not null, step_index integer not null, percentage double precision not null,
      state text not null, audience jsonb,
      step_started_at timestamptz not null default now(),
      created_at timestamptz not null default now(), updated_at timestamptz not null default now(),
      foreign key (app, model, channel) references channels(app, model, name)
    );
    create unique index rollouts_one_active on rollouts (app, model, channel) where state in ('running', 'paused');
    create table tokens (
      id text primary key, app text not null, name text not null, scopes text[] not null,
      token_hash text not null unique, created_by text not null,
      created_at timestamptz not null default now(), expires_at timestamptz,
      revoked_at timestamptz, last_used_at timestamptz
    );
    create table audit_log (
      id bigserial primary key, at timestamptz not null default now(), app text not null,
      actor text not null, action text not null, target text not null,
      before jsonb, after jsonb, request_id text
    );
    create index audit_log_app on audit_log (app, id);
    create table idempotency_keys (
      app text not null, key text not null, fingerprint text not null,
      status integer not null, response jsonb not null,
      created_at timestamptz not null default now(),
      primary key (app, key)
    )
  `,
  // Append-only is enforced by the database, not by convention: no code path can rewrite history.
  statements: [
    `create function audit_log_append_only() returns trigger language plpgsql as $$
     begin raise exception 'audit_log is append-only'; end $$`,
    `create trigger audit_log_append_only before update or delete on audit_log
     for each row execute function audit_log_append_only()`,
  ],
};
