import { RuntimeError } from '../errors.js';
import type { EngineHost, SessionInfo, SessionRequest } from './engine-host.js';
import { createOnnxSession, type OnnxSession } from './onnx-engine.js';
import type { Feeds, Outputs } from './tensor.js';

/**
 * The engine host that does the work, on whatever thread it is created on: inside the worker in
 * the browser, or on the calling thread in main-thread mode.
 */
export function createLocalEngineHost(): EngineHost {
  const sessions = new Map<number, OnnxSession>();
  // Calls on one session run one after another, in order: engines do not support re-entrant runs.
  const queues = new Map<number, Promise<unknown>>();
  let nextId = 1;

  return {
    async createSession(request: SessionRequest): Promise<SessionInfo> {
      if (request.format !== 'onnx') {
        throw new RuntimeError('unsupported_format', `no engine can run format "${request.format}"; supported: onnx`);
      }
      const started = performance.now();
      const session = await createOnnxSession(request.bytes, request.backends, request.wasmPaths);
      const id = nextId++;
      sessions.set(id, session);
      return {
        id,
        backend: session.backend,
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        createMs: performance.now() - started,
      };
    },

    run(sessionId: number, feeds: Feeds): Promise<Outputs> {
      const session = sessions.get(sessionId);
      if (!session) return Promise.reject(new RuntimeError('disposed', `session ${sessionId} was released`));
      const previous = queues.get(sessionId) ?? Promise.resolve();
      const next = previous.then(
        () => session.run(feeds),
        () => session.run(feeds),
      );
      queues.set(sessionId, next.catch(() => undefined));
      return next;
    },

    async release(sessionId: number): Promise<void> {
      const session = sessions.get(sessionId);
      if (!session) return;
      sessions.delete(sessionId);
      await queues.get(sessionId);
      queues.delete(sessionId);
      await session.release();
    },
  };
}
