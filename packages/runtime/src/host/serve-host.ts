import { expose, transfer, type Endpoint } from 'comlink';
import type { EngineHost } from '../engine/engine-host.js';
import { createLocalEngineHost, type LocalEngineHostOptions } from '../engine/local-engine-host.js';
import { transferablesOf } from '../engine/tensor.js';
import { installErrorTransfer } from './error-transfer.js';

/**
 * The worker side of the boundary: hosts engine sessions for the thread that spawned this one.
 * Shared by the browser worker entry and the Node worker_threads entry; call it from your own
 * worker script to host custom engines.
 * @example
 * // my-worker.ts
 * serveEngineHost();
 */
export function serveEngineHost(endpoint?: Endpoint, options: LocalEngineHostOptions = {}): void {
  installErrorTransfer();
  const local = createLocalEngineHost(options);
  const host: EngineHost = {
    createSession: (request) => local.createSession(request),
    // Outputs are fresh arrays owned by nobody else here: move them to the caller instead of copying.
    run: async (sessionId, feeds) => {
      const result = await local.run(sessionId, feeds);
      return transfer(result, transferablesOf(result.outputs));
    },
    release: (sessionId) => local.release(sessionId),
    capabilities: () => local.capabilities(),
  };
  expose(host, endpoint);
}
