import type { HealthPolicy } from '../manifest/health-policy.js';
import type { ManifestFile, ModelFormat, ModelRelease, ReferenceProfileRef, ReleaseVariant } from '../manifest/manifest.js';
import { inRollout } from './bucket.js';
import type { Cohort } from './plan.js';
import { matchesAudience, matchesCondition, type DeviceContext } from './targeting.js';

/** What one device should load for one model, and the cohort it reports. */
export interface Selection {
  /** A plain release (no `variants`, `rules` or `rollout`): what the device downloads and activates. */
  release: ModelRelease;
  /** The variant picked by a rule, or null for the version's default files. */
  variant: string | null;
  /** Null when the model has no rollout in progress. */
  cohort: Cohort | null;
}

interface FileSet {
  version: string;
  releaseId: string;
  format: ModelFormat;
  files: ManifestFile[];
  variants?: ReleaseVariant[] | undefined;
  profile?: ReferenceProfileRef | undefined;
  health?: HealthPolicy | undefined;
}

/**
 * Evaluates a manifest entry for this device: first the rollout (audience, then the sticky bucket
 * of `installId`), then the variant rules on the release that side of the rollout serves.
 * Pure and synchronous so the server can simulate fleets with exactly the device's code.
 * @example selectRelease(manifest.models.vad, installId, { backends: { webgpu: ['shader-f16'] } })
 */
export function selectRelease(entry: ModelRelease, installId: string, device: DeviceContext = {}): Selection {
  let chosen: FileSet = entry;
  let cohort: Cohort | null = null;
  const rollout = entry.rollout;
  if (rollout) {
    const arm = !matchesAudience(rollout.audience, device)
      ? 'excluded'
      : inRollout(rollout.salt, installId, rollout.percentage)
        ? 'candidate'
        : 'control';
    cohort = { rollout: rollout.id, arm, step: rollout.step ?? 0 };
    if (arm === 'candidate') chosen = rollout.candidate;
  }
  const variants = chosen.variants ?? [];
  const rule = (entry.rules ?? []).find(
    (candidate) => variants.some((v) => v.variant === candidate.variant) && matchesCondition(candidate.when, device),
  );
  const variant = rule ? variants.find((v) => v.variant === rule.variant)! : null;
  return {
    release: {
      model: entry.model,
      version: chosen.version,
      releaseId: variant?.releaseId ?? chosen.releaseId,
      format: variant?.format ?? chosen.format,
      files: variant?.files ?? chosen.files,
      ...(chosen.profile !== undefined && { profile: chosen.profile }),
      ...(chosen.health !== undefined && { health: chosen.health }),
    },
    variant: variant?.variant ?? null,
    cohort,
  };
}
