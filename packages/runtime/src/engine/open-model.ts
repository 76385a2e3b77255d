import type { ModelRelease } from '@edgeloop/protocol';
import { RuntimeError } from '../errors.js';
import { telemetryObserver, type ModelBinding, type ModelSlot } from '../health/run-observer.js';
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
 * The session request for a verified release: the model file, then TF.js weight shards in manifest
 * order (golden files are not the engine's). The bytes are copied, because the host takes
 * ownership of what it is given and the caller's copy is the cache's.
 */
export function sessionRequest(
  release: ModelRelease,
  files: ReadonlyMap<string, ArrayBuffer>,
  options: { backends: readonly BackendName[]; backendOptions: BackendOptions; worker?: 'shared' | 'own' },
): SessionRequest {
  const bytesOf = (sha256: string) => {
    const bytes = files.get(sha256);
    if (!bytes) throw new RuntimeError('storage', `release ${release.releaseId} is missing the bytes of file ${sha256}`);
    return bytes.slice(0);
  };
  const main = release.files.find((file) => file.role === 'model');
  if (!main) throw new RuntimeError('server', `release ${release.releaseId} has no file with role "model"`);
  return {
    format: release.format,
    bytes: bytesOf(main.sha256),
    weights: release.files.filter((file) => file.role === 'weights').map((file) => bytesOf(file.sha256)),
    backends: options.backends,
    backendOptions: options.backendOptions,
    label: `model "${release.model}" ${release.version}`,
    ...(options.worker !== undefined && { worker: options.worker }),
  };
}

/**
 * Turns a verified release into a running {@link Model} with no health gate around it: one session,
 * each run counted by telemetry. (`Runtime.load` goes through the health gate: health/health-gate.ts.)
 */
export async function openModel(input: OpenModelInput): Promise<Model> {
  const session = await input.host.createSession(
    sessionRequest(input.release, input.files, { backends: input.backends, backendOptions: input.backendOptions, ...(input.worker !== undefined && { worker: input.worker }) }),
  );
  const binding: ModelBinding = { release: input.release, session, backend: session.backend };
  const slot: ModelSlot = {
    binding,
    observers: [telemetryObserver(input.telemetry)],
    health: () => ({ state: 'committed', releaseId: input.release.releaseId, version: input.release.version }),
    release: () => input.host.release(session.id),
  };
  return new Model({
    slot,
    source: input.source,
    timings: { loadMs: performance.now() - input.startedAt, downloadMs: input.downloadMs, sessionMs: session.createMs },
    host: input.host,
    ...(input.onEvent && { onEvent: input.onEvent }),
    ...(input.delivery && { delivery: input.delivery }),
  });
}
