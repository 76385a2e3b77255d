import { Worker, type WorkerOptions } from 'node:worker_threads';
import { remoteHost, type RemoteEngineHost, type RemoteHostOptions } from '../host/remote-host.js';
import type { SpawnedWorker } from '../host/worker-channel.js';
import { nodeEndpoint } from './node-endpoint.js';
import { sourceWorker } from './source-worker.js';

export interface WorkerThreadsHostOptions extends Omit<RemoteHostOptions, 'spawn'> {
  /** Creates the worker thread; default: the runtime's own entry next to this module. */
  createWorker?: () => Worker;
  /** Extra options for the default worker (e.g. `resourceLimits`). */
  workerOptions?: WorkerOptions;
}

/**
 * Runs engines in Node worker threads (Electron's main process, kiosk scripts): the same protocol
 * as the browser worker, over `node:worker_threads`.
 * @example
 * import { workerThreadsHost } from '@edgeloop/runtime/node';
 * const runtime = createRuntime({ serverUrl, app: 'kiosk', host: workerThreadsHost(), storage });
 */
export function workerThreadsHost(options: WorkerThreadsHostOptions = {}): RemoteEngineHost {
  const { createWorker, workerOptions, ...rest } = options;
  return remoteHost({ ...rest, spawn: () => nodeWorker(createWorker?.() ?? defaultWorker(workerOptions)) });
}

function defaultWorker(options: WorkerOptions = {}): Worker {
  // From the TypeScript sources (tests, tsx) the entry is a .ts file that Node needs tsx to load;
  // from the published build it is plain .js.
  if (import.meta.url.endsWith('.ts')) return sourceWorker(new URL('./worker-threads-entry.ts', import.meta.url), options);
  return new Worker(new URL('./worker-threads-entry.js', import.meta.url), options);
}

function nodeWorker(worker: Worker): SpawnedWorker {
  return {
    endpoint: nodeEndpoint(worker),
    onCrash(listener) {
      worker.on('error', (error) => listener(`uncaught ${error.name}: ${error.message}`));
      worker.on('exit', (code) => listener(`the worker thread exited with code ${code}`));
    },
    terminate: () => void worker.terminate(),
  };
}
