import { z } from 'zod';
import { ProtocolError } from '../errors.js';
import { nameSchema, sha256Schema, versionLabelSchema } from '../names.js';
import { rolloutPlanFields } from '../rollout/plan.js';
import { variantRuleSchema } from '../rollout/targeting.js';
import { healthPolicySchema } from './health-policy.js';

/** Wire version of {@link Manifest}; a client refuses a manifest whose `schema` it does not know. */
export const MANIFEST_SCHEMA_VERSION = 1;

/**
 * Formats a model release can have; the runtime picks its engine from this. `tfjs-graph` and
 * `tfjs-layers` are TF.js `model.json` files (converter graph models / Keras layers models).
 */
export const modelFormatSchema = z.enum(['onnx', 'tfjs-graph', 'tfjs-layers']);
export type ModelFormat = z.infer<typeof modelFormatSchema>;

export const manifestFileSchema = z.object({
  /**
   * What the file is to the engine: `model` is the graph the engine loads (the `.onnx` file or the
   * TF.js `model.json`); `weights` are TF.js weight shards, listed in the order the `model.json`
   * weightsManifest names them, since the engine concatenates them in manifest order; `golden`
   * files hold golden cases (an `edgeloop-golden` JSON file, see src/golden) that the device runs
   * before the release answers its first real call.
   */
  role: z.enum(['model', 'weights', 'golden']),
  sha256: sha256Schema,
  /** Exact byte length; a client never reads more than this. */
  length: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Content-addressed URL, absolute or relative to the server base URL the client was given. */
  url: z.string().min(1).max(2048),
});

/**
 * The reference profile a release's telemetry summaries are cut on, bound to the release by the
 * signature: the device fetches it from `url` and uses it only if its bytes hash to `sha256`.
 */
export const referenceProfileRefSchema = z.object({
  id: z.string().min(1).max(256),
  sha256: sha256Schema,
  length: z.number().int().positive().max(16 * 1024 * 1024),
  url: z.string().min(1).max(2048),
});

/** Another file set of the same version (e.g. fp16 for WebGPU), picked on the device by a variant rule. */
export const releaseVariantSchema = z.object({
  variant: nameSchema,
  releaseId: z.string().min(1).max(128),
  format: modelFormatSchema,
  files: z.array(manifestFileSchema).min(1).max(64),
  backend: z.string().max(32).optional(),
  precision: z.string().max(16).optional(),
});

/** A staged rollout of a model: the device computes its bucket from `salt` (packages/protocol/src/rollout). */
export const manifestRolloutSchema = z.object({
  ...rolloutPlanFields,
  candidate: z.object({
    version: versionLabelSchema,
    releaseId: z.string().min(1).max(128),
    format: modelFormatSchema,
    files: z.array(manifestFileSchema).min(1).max(64),
    variants: z.array(releaseVariantSchema).max(16).optional(),
    profile: referenceProfileRefSchema.optional(),
    health: healthPolicySchema.optional(),
  }),
});

export const modelReleaseSchema = z.object({
  model: nameSchema,
  /** The operator's label, e.g. `5.0.0`. */
  version: versionLabelSchema,
  /** Identifies this exact set of files; files of two releases never mix. */
  releaseId: z.string().min(1).max(128),
  format: modelFormatSchema,
  files: z.array(manifestFileSchema).min(1).max(64),
  /** Optional: other variants of this version, and the rules that pick one (first match wins). */
  variants: z.array(releaseVariantSchema).max(16).optional(),
  rules: z.array(variantRuleSchema).max(32).optional(),
  /** Optional: the rollout in progress; devices outside it load the release above (the control). */
  rollout: manifestRolloutSchema.optional(),
  /** Optional: the reference profile of this release's telemetry summaries. */
  profile: referenceProfileRefSchema.optional(),
  /** Optional: when a device commits this release after trying it (defaults: DEFAULT_HEALTH_POLICY). */
  health: healthPolicySchema.optional(),
});

export const manifestSchema = z.object({
  schema: z.literal(MANIFEST_SCHEMA_VERSION),
  app: nameSchema,
  /** Monotonic per app: raised whenever anything in the manifest changes. */
  version: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  issuedAt: z.iso.datetime(),
  /**
   * The channel this manifest serves (`stable` when absent). Signed, so a server or proxy cannot
   * answer a beta device with the stable manifest or the reverse without the client noticing.
   */
  channel: nameSchema.optional(),
  /** After this time the manifest is stale: clients keep running what they have and report it (TUF freeze protection). */
  expires: z.iso.datetime(),
  models: z.record(nameSchema, modelReleaseSchema),
  /**
   * The signed telemetry configuration (privacy parameters, period, latency ranges): opaque here,
   * validated by `@edgeloop/telemetry`'s `parseTelemetryConfig` on both sides.
   */
  telemetry: z.record(z.string(), z.unknown()).optional(),
});

export type ManifestFile = z.infer<typeof manifestFileSchema>;
export type ModelRelease = z.infer<typeof modelReleaseSchema>;
export type ReleaseVariant = z.infer<typeof releaseVariantSchema>;
export type ManifestRollout = z.infer<typeof manifestRolloutSchema>;
export type ReferenceProfileRef = z.infer<typeof referenceProfileRefSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

/**
 * Validates an untrusted value as a {@link Manifest}. Throws a {@link ProtocolError} whose message
 * names every bad field, e.g. `models.vad.files.0.sha256: must be 64 lowercase hex digits`.
 */
export function parseManifest(value: unknown): Manifest {
  const result = manifestSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new ProtocolError('invalid_manifest', `invalid manifest: ${issues.join('; ')}`, issues);
  }
  for (const [key, release] of Object.entries(result.data.models)) {
    if (release.model !== key) {
      throw new ProtocolError('invalid_manifest', `invalid manifest: models.${key}.model is "${release.model}"; it must equal its key`);
    }
    if (!release.files.some((file) => file.role === 'model')) {
      throw new ProtocolError('invalid_manifest', `invalid manifest: models.${key}.files has no file with role "model"`);
    }
  }
  return result.data;
}

/** The main file of a release: the one the engine loads. */
export function modelFile(release: ModelRelease): ManifestFile {
  const file = release.files.find((candidate) => candidate.role === 'model');
  if (!file) throw new ProtocolError('invalid_manifest', `release ${release.releaseId} has no file with role "model"`);
  return file;
}
