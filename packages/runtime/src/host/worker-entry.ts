/// <reference lib="webworker" />
import { expose, transfer } from 'comlink';
import type { EngineHost } from '../engine/engine-host.js';
import { createLocalEngineHost } from '../engine/local-engine-host.js';
import { transferablesOf } from '../engine/tensor.js';
import { installErrorTransfer } from './error-transfer.js';

// The worker's whole job: host engine sessions for the runtime on the page.
installErrorTransfer();
const local = createLocalEngineHost();
const host: EngineHost = {
  createSession: (request) => local.createSession(request),
  // Outputs are fresh arrays owned by nobody else here: move them to the page instead of copying.
  run: async (sessionId, feeds) => {
    const outputs = await local.run(sessionId, feeds);
    return transfer(outputs, transferablesOf(outputs));
  },
  release: (sessionId) => local.release(sessionId),
};
expose(host);
