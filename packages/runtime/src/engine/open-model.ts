import type { ModelRelease } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import { Model, type ModelDelivery, type ModelEvent, type ModelSource } from '../model.js';
import type { TelemetryCollector } from '../telemetry/collector.js';
import type { BackendName, BackendOptions } from './backends.js';
import type { EngineHost, SessionRequest } from './engine-host.js';

export interface OpenModelInput {
  release: ModelRelease;
  /** Verified bytes of every file of the release, by sha256. */
  files: ReadonlyMap<string, ArrayBuffer>;
  source: ModelSource;
  host: EngineHost;
  telemetry: TelemetryCollector;
  backends: readonly BackendName[];
  backendOptions: BackendOptions;
  worker?: 'shared' | 'own';
  onEvent?: (event: ModelEvent) => void;
  /** `performance.now()` when `load()` started, and the time downloading took. */
  startedAt: number;
  downloadMs: number;
  /** What delivery found (manifest freshness, pending update); passed through to the model. */
  delivery?: ModelDelivery;
}

/**
 * Turns a verified release into a running {@link Model}: picks the files by role (the model file,
 * then TF.js weight shards in manifest order) and creates the session in the host. The bytes are
 * copied, because the host takes ownership of what it is given and the caller's copy is the cache's.
 */
export async function openModel(input: OpenModelInput): Promise<Model> {
  const { release } = input;
  const bytesOf = (sha256: string) => {
    const bytes = input.files.get(sha256);
    if (!bytes) throw new RuntimeError('storage', `release ${release.releaseId} is missing the bytes of file ${sha256}`);
    return bytes.slice(0);
  };
  const main = release.files.find((file) => file.role === 'model');
  if (!main) throw new RuntimeError('server', `release ${release.releaseId} has no file with role "model"`);
  const request: SessionRequest = {
    format: release.format,
    bytes: bytesOf(main.sha256),
    weights: release.files.filter((file) => file.role === 'weights').map((file) => bytesOf(file.sha256)),
    backends: input.backends,
    backendOptions: input.backendOptions,
    label: `model "${release.model}" ${release.version}`,
    ...(input.worker !== undefined && { worker: input.worker }),
  };
  const session = await input.host.createSession(request);
  return new Model({
    name: release.model,
    version: release.version,
    releaseId: release.releaseId,
    format: release.format,
    source: input.source,
    timings: { loadMs: performance.now() - input.startedAt, downloadMs: input.downloadMs, sessionMs: session.createMs },
    host: input.host,
    session,
    telemetry: input.telemetry,
    ...(input.onEvent && { onEvent: input.onEvent }),
    ...(input.delivery && { delivery: input.delivery }),
  });
}
