import { createHash } from 'node:crypto';
import { deviceRoutes, type Condition, type ManifestFile, type ModelRelease, type ReleaseVariant, type VariantRule } from '@edgeloop/protocol';
import type { Sql } from '../db/database.js';
import { profileRef, resolveProfiles, versionKey, type ResolvedProfile } from '../profiles/profile-store.js';
import { describeVersion, type VariantFile, type VariantRecord } from './describe.js';
import { fileRoleSchema } from './upload-options.js';

interface ChannelRow {
  model: string;
  version: string;
  rules: VariantRule[];
}

interface RolloutRow {
  id: string;
  model: string;
  to_version: string;
  salt: string;
  percentage: number;
  step_index: number;
  audience: Condition[] | null;
}

/** Model files first (the engine's entry point), then the rest by role, so manifests are stable. */
const ROLE_ORDER: readonly string[] = fileRoleSchema.options;

/** A file of a role the protocol has (files of roles servers once accepted may still be stored). */
const servable = (file: VariantFile): file is VariantFile & { role: ManifestFile['role'] } => fileRoleSchema.safeParse(file.role).success;

function filesOf(variant: VariantRecord): ManifestFile[] {
  return variant.files
    .filter(servable)
    .sort((a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role))
    .map((file) => ({
      role: file.role,
      sha256: file.sha256,
      length: file.size,
      // Relative to the server base URL, so one manifest works behind any host name or path prefix.
      url: deviceRoutes.artifact(file.sha256),
    }));
}

/**
 * The default variant keeps the release id format devices cached before variants existed. Golden
 * files are part of the file set a release id names: adding them makes a new release (devices run
 * its golden checks in a trial), and a release without them keeps the id it always had.
 */
function releaseIdOf(model: string, version: string, variant: VariantRecord): string {
  const main = variant.files.find((file) => file.role === 'model') ?? variant.files[0]!;
  const name = variant.variant === 'default' ? '' : `:${variant.variant}`;
  const golden = variant.files.filter((file) => file.role === 'golden').map((file) => file.sha256).sort();
  const goldenTag = golden.length === 0 ? '' : `+g${createHash('sha256').update(golden.join(',')).digest('hex').slice(0, 12)}`;
  return `${model}@${version}${name}#${main.sha256.slice(0, 16)}${goldenTag}`;
}

async function releaseOf(sql: Sql, app: string, model: string, version: string, profiles: ReadonlyMap<string, ResolvedProfile>) {
  const details = await describeVersion(sql, app, model, version);
  // A variant is served once it can run: its model file, and for TF.js its weights too. A variant
  // with a file devices cannot load (external data, stored before such uploads were refused) never is.
  const complete = details.variants.filter(
    (v) =>
      v.files.every(servable) &&
      v.files.some((file) => file.role === 'model') &&
      (v.format === 'onnx' || v.files.some((file) => file.role === 'weights')),
  );
  const main = complete.find((v) => v.variant === 'default') ?? complete[0];
  if (!main) return null; // e.g. a TF.js model.json whose weights are not uploaded yet
  const profile = profiles.get(versionKey(model, version));
  const variants: ReleaseVariant[] = complete
    .filter((v) => v !== main)
    .map((v) => ({
      variant: v.variant,
      releaseId: releaseIdOf(model, version, v),
      format: v.format,
      files: filesOf(v),
      ...(v.backend !== null && { backend: v.backend }),
      ...(v.precision !== null && { precision: v.precision }),
    }));
  return {
    version,
    releaseId: releaseIdOf(model, version, main),
    format: main.format,
    files: filesOf(main),
    ...(variants.length > 0 && { variants }),
    // The profile this version records drift summaries against, bound to the release by the signature.
    ...(profile !== undefined && { profile: profileRef(profile) }),
    // When devices commit this version after trying it; absent: the protocol's defaults.
    ...(details.health !== null && { health: details.health }),
  };
}

/**
 * What the manifest of `app` on `channel` lists: per model the channel's version (the control),
 * the variant rules, and the rollout in progress with its candidate. Only the optional fields that
 * are in use are written, so manifests without rollouts look exactly as before.
 */
export async function manifestModels(sql: Sql, app: string, channel: string): Promise<Record<string, ModelRelease>> {
  const channels = await sql.query<ChannelRow>('select model, version, rules from channels where app = $1 and name = $2 order by model', [
    app,
    channel,
  ]);
  const rollouts = await sql.query<RolloutRow>(
    `select id, model, to_version, salt, percentage, step_index, audience from rollouts
     where app = $1 and channel = $2 and state in ('running', 'paused')`,
    [app, channel],
  );
  const profiles = await resolveProfiles(sql, app);
  const models: Record<string, ModelRelease> = {};
  for (const row of channels) {
    const control = await releaseOf(sql, app, row.model, row.version, profiles);
    if (!control) continue; // nothing runnable yet: the model is not served until it is
    const rollout = rollouts.find((r) => r.model === row.model);
    const candidate = rollout ? await releaseOf(sql, app, row.model, rollout.to_version, profiles) : null;
    models[row.model] = {
      model: row.model,
      ...control,
      ...(row.rules.length > 0 && { rules: row.rules }),
      ...(rollout && candidate && {
        rollout: {
          id: rollout.id,
          salt: rollout.salt,
          percentage: Number(rollout.percentage),
          // Devices report the step they acted under; admission checks it against the rollout's steps.
          step: Number(rollout.step_index),
          ...(rollout.audience && { audience: rollout.audience }),
          candidate,
        },
      }),
    };
  }
  return models;
}
