export { createApp, ROLLOUT_GATE_JOB, type AppOptions, type EdgeloopApp, type TelemetryOptions } from './app.js';
export { startServer, type RunningServer, type ServerOptions } from './server.js';
export { ServerError, type ErrorBody, type ServerErrorCode } from './errors.js';
export type { BlobStore, SharedBlobStore, StagedBlob } from './blobs/blob-store.js';
export { fsBlobStore } from './blobs/fs-blob-store.js';
export { postgresBlobs, type PostgresBlobsOptions } from './blobs/postgres-blob-store.js';
export { cachedBlobStore, type CachedBlobStore, type CachedBlobStoreOptions } from './blobs/cached-blob-store.js';
// The S3 store is reached through startServer's `blobStore` (or openBlobStore), which loads the AWS SDK only when chosen.
export { openBlobStore, parseBlobStore, type BlobStoreConfig, type OpenedBlobStore } from './blobs/open-blob-store.js';
export type { Database, Sql } from './db/database.js';
export { openPglite } from './db/pglite.js';
export { Registry, type ModelVersionRecord, type PublishInput } from './registry/registry.js';
export { inspectOnnx, type OnnxInfo } from './registry/onnx.js';
export { Jobs, type Job, type Timers } from './jobs/jobs.js';
export type { TelemetryConfigOptions } from './telemetry/config/config-options.js';
export { TelemetryConfigStore, type IssuedConfig } from './telemetry/config/config-store.js';
export { ReportFloor } from './telemetry/report-floor.js';
export { TELEMETRY_JOBS } from './telemetry/telemetry-jobs.js';
export { TelemetryViews } from './telemetry/views/views.js';
export type { HealthNumbers, Interval } from './telemetry/views/numbers.js';
export { DEMO_SEED, seedIfEmpty } from './seed.js';
export {
  ephemeralSigner,
  loadSigningKey,
  rotateSigningKey,
  type ManifestSigner,
  type SigningKeyOptions,
} from './manifest/signing-key.js';
