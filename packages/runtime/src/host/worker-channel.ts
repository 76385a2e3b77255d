import { releaseProxy, wrap, type Endpoint, type Remote } from 'comlink';
import type { EngineHost } from '../engine/engine-host.js';
import { RuntimeError } from '../errors.js';

/** A started worker of any kind: a browser Worker or a Node worker thread, behind one shape. */
export interface SpawnedWorker {
  endpoint: Endpoint;
  /** Calls `listener` once if the worker dies or throws an uncaught error. */
  onCrash(listener: (reason: string) => void): void;
  terminate(): void;
}

/**
 * One worker and the calls in flight to it. A dead worker never answers, so every call races the
 * crash signal: when it comes, each pending call fails with code `worker` instead of hanging.
 */
export class WorkerChannel {
  readonly remote: Remote<EngineHost>;
  crash: string | null = null;
  readonly #worker: SpawnedWorker;
  readonly #pending = new Set<(error: RuntimeError) => void>();
  #stopped = false;

  constructor(worker: SpawnedWorker) {
    this.#worker = worker;
    this.remote = wrap<EngineHost>(worker.endpoint);
    worker.onCrash((reason) => {
      if (this.crash !== null || this.#stopped) return;
      this.crash = reason;
      const error = new RuntimeError('worker', `the engine worker crashed (${reason}); this call did not complete. The worker restarts on the next call`);
      for (const reject of this.#pending) reject(error);
      this.#pending.clear();
      // An uncaught error may leave the worker running in an unknown state: stop it for good.
      this.#stop();
    });
  }

  call<T>(start: (remote: Remote<EngineHost>) => Promise<T>): Promise<T> {
    if (this.crash !== null) return Promise.reject(new RuntimeError('worker', `the engine worker crashed (${this.crash})`));
    return new Promise<T>((resolve, reject) => {
      this.#pending.add(reject);
      start(this.remote)
        .then(resolve, reject)
        .finally(() => this.#pending.delete(reject));
    });
  }

  terminate(): void {
    const error = new RuntimeError('disposed', 'the engine worker was terminated (runtime disposed); load the model again in a new runtime');
    for (const reject of this.#pending) reject(error);
    this.#pending.clear();
    this.#stop();
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.remote[releaseProxy]();
    this.#worker.terminate();
  }
}
