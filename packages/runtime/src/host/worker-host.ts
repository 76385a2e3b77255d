import { remoteHost, type RemoteEngineHost, type RemoteHostOptions } from './remote-host.js';
import type { SpawnedWorker } from './worker-channel.js';

export interface WorkerHostOptions extends Omit<RemoteHostOptions, 'spawn'> {
  /**
   * Creates the worker. The default loads the runtime's own worker script next to this module,
   * which bundlers that understand `new Worker(new URL(..., import.meta.url))` (Vite, webpack 5)
   * emit automatically.
   */
  createWorker?: () => Worker;
}

export type WorkerEngineHost = RemoteEngineHost;

/**
 * Runs engines in dedicated Web Workers; the page thread only posts messages.
 * @example
 * const runtime = createRuntime({ serverUrl, app: 'demo', host: workerHost({ transferInputs: true }) });
 */
export function workerHost(options: WorkerHostOptions = {}): WorkerEngineHost {
  const { createWorker, ...rest } = options;
  return remoteHost({
    ...rest,
    spawn: () => browserWorker(createWorker?.() ?? new Worker(new URL('./worker-entry.js', import.meta.url), { type: 'module', name: 'edgeloop-engine' })),
  });
}

function browserWorker(worker: Worker): SpawnedWorker {
  return {
    endpoint: worker,
    onCrash(listener) {
      // Browsers signal an uncaught error or a script that failed to load; a worker that the
      // browser kills silently (e.g. out of memory) sends nothing, see docs/runtime-engines.md.
      worker.addEventListener('error', (event) => listener(event.message || 'it could not start or threw an uncaught error'));
      worker.addEventListener('messageerror', () => listener('a message from it could not be deserialised'));
    },
    terminate: () => worker.terminate(),
  };
}
