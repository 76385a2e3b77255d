import { releaseProxy, transfer, wrap, type Remote } from 'comlink';
import type { EngineHost, SessionInfo, SessionRequest } from '../engine/engine-host.js';
import { transferablesOf, type Feeds, type Outputs } from '../engine/tensor.js';
import { RuntimeError } from '../errors.js';
import { installErrorTransfer } from './error-transfer.js';

export interface WorkerHostOptions {
  /**
   * Creates the worker. The default loads the runtime's own worker script next to this module,
   * which bundlers that understand `new Worker(new URL(..., import.meta.url))` (Vite, webpack 5)
   * emit automatically.
   */
  createWorker?: () => Worker;
  /** Transfer input buffers to the worker instead of copying them (the caller's arrays detach). */
  transferInputs?: boolean;
}

export interface WorkerEngineHost extends EngineHost {
  terminate(): void;
}

/** Runs engines in a dedicated Web Worker; the page thread only posts messages. */
export function workerHost(options: WorkerHostOptions = {}): WorkerEngineHost {
  installErrorTransfer();
  const worker =
    options.createWorker?.() ?? new Worker(new URL('./worker-entry.js', import.meta.url), { type: 'module', name: 'edgeloop-engine' });
  const remote: Remote<EngineHost> = wrap<EngineHost>(worker);
  let crashed: RuntimeError | undefined;
  const pending = new Set<(error: RuntimeError) => void>();
  worker.addEventListener('error', (event) => {
    crashed = new RuntimeError('worker', `the engine worker failed: ${event.message || 'it could not start or crashed'}`);
    for (const reject of pending) reject(crashed);
    pending.clear();
  });

  // A dead worker never answers; race every call against the crash so none hangs.
  function call<T>(start: () => Promise<T>): Promise<T> {
    if (crashed) return Promise.reject(crashed);
    return new Promise<T>((resolve, reject) => {
      pending.add(reject);
      start().then(resolve, reject).finally(() => pending.delete(reject));
    });
  }

  return {
    createSession(request: SessionRequest): Promise<SessionInfo> {
      return call(() => remote.createSession(transfer(request, [request.bytes])));
    },
    run(sessionId: number, feeds: Feeds): Promise<Outputs> {
      const transferables = options.transferInputs ? transferablesOf(feeds) : [];
      return call(() => remote.run(sessionId, transfer(feeds, transferables)));
    },
    release(sessionId: number): Promise<void> {
      return call(() => remote.release(sessionId));
    },
    terminate() {
      remote[releaseProxy]();
      worker.terminate();
    },
  };
}
