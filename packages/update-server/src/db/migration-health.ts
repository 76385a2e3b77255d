import type { Migration } from './migrations.js';

/**
 * Golden cases and health policies (issue 11). A variant may hold several golden files (one per
 * `*.json` of `edgeloop publish --golden DIR`), each content-addressed: golden files are keyed by
 * their sha256 as well, while `model` and `weights` stay one per variant. A version may carry a
 * health policy (the signed `health` of its releases in manifests); null means the defaults.
 */
export const healthMigration: Migration = {
  id: 16,
  name: 'golden files and health policies',
  sql: `
    alter table variant_files drop constraint variant_files_pkey;
    alter table variant_files add primary key (app, model, version, variant, role, sha256);
    create unique index variant_files_one_per_role on variant_files (app, model, version, variant, role) where role <> 'golden';
    alter table model_versions add column health jsonb
  `,
};
