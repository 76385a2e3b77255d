export { createRuntime, type LoadOptions, type Runtime, type RuntimeOptions } from './runtime.js';
export { Model, type ModelEvent, type ModelSource, type ModelTimings } from './model.js';
export { RuntimeError, type RuntimeErrorCode } from './errors.js';
export { tensor, type Feeds, type Outputs, type Tensor, type TensorData, type TensorDataMap } from './engine/tensor.js';
export type { EngineHost, HostEvent, RunResult, SessionInfo, SessionRequest } from './engine/engine-host.js';
export { DEFAULT_BACKENDS, type BackendName, type BackendOptionMap, type BackendOptions } from './engine/backends.js';
export type { Capabilities, WebGpuCapabilities } from './capabilities/capabilities.js';
export { probeCapabilities } from './capabilities/probe.js';
export { remoteHost, type RemoteEngineHost, type RemoteHostOptions } from './host/remote-host.js';
export type { SpawnedWorker } from './host/worker-channel.js';
export { serveEngineHost } from './host/serve-host.js';
export { workerHost, type WorkerEngineHost, type WorkerHostOptions } from './host/worker-host.js';
export { inlineHost } from './host/inline-host.js';
export type { LocalEngineHostOptions } from './engine/local-engine-host.js';
export type { Engine, EngineSession, ModelFiles } from './engine/engine.js';
export {
  KEEP_PARTIAL_MS,
  type AppState,
  type CollectOptions,
  type ModelPointers,
  type ModelRecord,
  type ModelStore,
  type NamedLocks,
  type StoredFile,
  type TrialLease,
} from './storage/model-store.js';
export type { DeniedRelease, ModelHealthState, ReleaseMeasurement, RevertReason, TrialState } from './health/health-state.js';
export type { HealthCheck, ModelHealth } from './health/model-health.js';
export { webLocksLiveness, type Liveness } from './health/liveness.js';
export { indexedDbStore, DB_VERSION, type EdgeloopDB, type IndexedDbStoreOptions } from './storage/indexeddb-store.js';
export { DEFAULT_EPSILON_PER_DAY, TelemetryCollector, type FlushResult, type TelemetryCollectorInit, type TelemetryOptions } from './telemetry/collector.js';
export type { CategoricalReportable, ModelTelemetryOptions, NumericReportable, ReportableFeature } from './telemetry/reportable-features.js';
export type { PendingEntry, PendingState, PendingTelemetry } from './telemetry/pending.js';
export {
  memoryTelemetryStorage,
  type QueuedEntrySummary,
  type QueuedReport,
  type StoredAccumulator,
  type TelemetryState,
  type TelemetryStorage,
} from './telemetry/telemetry-storage.js';
export { indexedDbTelemetryStorage, type IndexedDbTelemetryStorageOptions } from './telemetry/indexeddb-telemetry-storage.js';
export { TELEMETRY_DB_VERSION, type TelemetryDB } from './telemetry/telemetry-db.js';
export { mergeDeltas } from './telemetry/state/merge-deltas.js';
export { sealPeriods, type DropReason, type SealOutcome, type SealRequest } from './telemetry/state/seal-periods.js';
export type { ActivationPolicy, LoadProgress, ManifestStatus } from './delivery/delivery.js';
export type { FileProgress } from './delivery/download.js';
export type { TrustOptions } from './delivery/trust-options.js';
export type { UpdatePolicy } from './delivery/update-poller.js';
export type { ModelDelivery } from './model.js';
export type { RuntimeEventType } from './runtime.js';
