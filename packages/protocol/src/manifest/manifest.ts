import { z } from 'zod';
import { ProtocolError } from '../errors.js';
import { nameSchema, sha256Schema, versionLabelSchema } from '../names.js';

/** Wire version of {@link Manifest}; a client refuses a manifest whose `schema` it does not know. */
export const MANIFEST_SCHEMA_VERSION = 1;

/** Formats a model release can have; the runtime picks its engine from this. */
export const modelFormatSchema = z.enum(['onnx']);
export type ModelFormat = z.infer<typeof modelFormatSchema>;

export const manifestFileSchema = z.object({
  /** What the file is to the engine: `model` is the graph the engine loads. */
  role: z.enum(['model']),
  sha256: sha256Schema,
  /** Exact byte length; a client never reads more than this. */
  length: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  /** Content-addressed URL, absolute or relative to the server base URL the client was given. */
  url: z.string().min(1).max(2048),
});

export const modelReleaseSchema = z.object({
  model: nameSchema,
  /** The operator's label, e.g. `5.0.0`. */
  version: versionLabelSchema,
  /** Identifies this exact set of files; files of two releases never mix. */
  releaseId: z.string().min(1).max(128),
  format: modelFormatSchema,
  files: z.array(manifestFileSchema).min(1).max(64),
});

export const manifestSchema = z.object({
  schema: z.literal(MANIFEST_SCHEMA_VERSION),
  app: nameSchema,
  /** Monotonic per app: raised whenever anything in the manifest changes. */
  version: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  issuedAt: z.iso.datetime(),
  models: z.record(nameSchema, modelReleaseSchema),
});

export type ManifestFile = z.infer<typeof manifestFileSchema>;
export type ModelRelease = z.infer<typeof modelReleaseSchema>;
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
