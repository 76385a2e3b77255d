import type { ModelFormat } from '@edgeloop/protocol';
import type { Capabilities } from '../capabilities/capabilities.js';
import { probeCapabilities } from '../capabilities/probe.js';
import { RuntimeError } from '../errors.js';
import type { BackendName, BackendOptions } from './backends.js';
import { BackendSelector } from './backend-selector.js';
import type { Engine, EngineSession, ModelFiles } from './engine.js';
import { defaultEngineLoaders, type EngineLoader } from './engine-loaders.js';
import type { EngineHost, HostEvent, RunResult, SessionInfo, SessionRequest } from './engine-host.js';
import type { Feeds } from './tensor.js';

export interface LocalEngineHostOptions {
  /** Replaces the engine for a format (tests; custom builds). Default: onnxruntime-web and TF.js, loaded lazily. */
  engines?: Partial<Record<ModelFormat, { library: string; load: EngineLoader }>>;
}

interface Entry {
  label: string;
  engine: Engine;
  session: EngineSession;
  backends: readonly BackendName[];
  options: BackendOptions;
  /** Kept only while a later backend could take over after a device loss. */
  files: ModelFiles | null;
  lost: string | null;
  queue: Promise<unknown>;
}

/**
 * The engine host that does the work, on whatever thread it is created on: inside a worker, a Node
 * worker thread, or the calling thread in main-thread mode. It queues calls per session, and when
 * a session's device is lost it recreates the session on the next backend at the next call.
 */
export function createLocalEngineHost(options: LocalEngineHostOptions = {}): EngineHost {
  const loaders = { ...defaultEngineLoaders, ...options.engines };
  const engines = new Map<string, Promise<Engine>>();
  const selector = new BackendSelector();
  const sessions = new Map<number, Entry>();
  let capabilities: Promise<Capabilities> | undefined;
  let nextId = 1;

  function engineFor(format: ModelFormat): Promise<Engine> {
    const loader = loaders[format];
    if (!loader) {
      const known = Object.keys(loaders).map((f) => `"${f}"`).join(', ');
      return Promise.reject(new RuntimeError('unsupported_format', `no engine can run format "${format}"; this runtime runs ${known}. Upgrade @edgeloop/runtime, or publish the model in one of those formats`));
    }
    let engine = engines.get(loader.library);
    if (!engine) {
      engine = loader.load().catch((error: unknown) => {
        engines.delete(loader.library);
        throw new RuntimeError('engine', `could not load ${loader.library}: ${(error as Error).message}`, { cause: error });
      });
      engines.set(loader.library, engine);
    }
    return engine;
  }

  function watch(entry: Entry): void {
    const session = entry.session;
    session.onLost((reason) => {
      if (entry.session !== session) return;
      entry.lost = reason;
      selector.markDead(session.backend, reason);
    });
  }

  /** Recreates a lost session on the backends after the lost one; the event says what happened. */
  async function recover(entry: Entry): Promise<HostEvent> {
    const from = entry.session.backend;
    const reason = entry.lost!;
    const rest = entry.backends.slice(entry.backends.indexOf(from) + 1);
    if (!entry.files || rest.length === 0) {
      throw new RuntimeError('backend_lost', `${entry.label} lost its ${from} backend (${reason}) and no later backend is allowed; load the model again`);
    }
    // The old session's device is gone; releasing it frees what JS still holds and must not mask recovery.
    const released = entry.session.release().then(() => null, (error: unknown) => error);
    let opened;
    try {
      opened = await selector.open(entry.engine, entry.files, rest, entry.options, entry.label);
    } catch (error) {
      throw new RuntimeError('backend_lost', `${entry.label} lost its ${from} backend (${reason}) and could not move: ${(error as Error).message}`, { cause: error });
    }
    const releaseError = await released;
    entry.session = opened.session;
    entry.lost = null;
    if (opened.session.backend === entry.backends.at(-1)) entry.files = null;
    watch(entry);
    const note = releaseError ? `; releasing the old session failed: ${(releaseError as Error).message}` : '';
    return { type: 'backend-lost', from, to: opened.session.backend, reason: reason + note };
  }

  async function runNow(entry: Entry, feeds: Feeds): Promise<RunResult> {
    const events: HostEvent[] = [];
    if (entry.lost) events.push(await recover(entry));
    const session = entry.session;
    try {
      return { outputs: await session.run(feeds), backend: session.backend, events };
    } catch (error) {
      if (entry.lost && entry.session === session) {
        throw new RuntimeError('backend_lost', `${entry.label} lost its ${session.backend} backend during this call (${entry.lost}); the next call moves to the next backend`, { cause: error });
      }
      throw RuntimeError.fromUnknown(error, 'engine');
    }
  }

  return {
    async createSession(request: SessionRequest): Promise<SessionInfo> {
      const started = performance.now();
      const label = request.label ?? `a ${request.format} model`;
      const engine = await engineFor(request.format);
      const files: ModelFiles = { model: request.bytes, weights: request.weights ?? [] };
      const backendOptions = request.backendOptions ?? {};
      const { session, skipped } = await selector.open(engine, files, request.backends, backendOptions, label);
      const id = nextId++;
      const hasFallback = request.backends.indexOf(session.backend) < request.backends.length - 1;
      const entry: Entry = { label, engine, session, backends: request.backends, options: backendOptions, files: hasFallback ? files : null, lost: null, queue: Promise.resolve() };
      sessions.set(id, entry);
      watch(entry);
      return { id, backend: session.backend, signature: session.signature, skipped, createMs: performance.now() - started };
    },

    run(sessionId: number, feeds: Feeds): Promise<RunResult> {
      const entry = sessions.get(sessionId);
      if (!entry) return Promise.reject(new RuntimeError('disposed', `session ${sessionId} was released; load the model again to run it`));
      // Calls on one session run one after another, in order: engines do not support re-entrant runs.
      const next = entry.queue.then(() => runNow(entry, feeds));
      entry.queue = next.catch(() => undefined);
      return next;
    },

    async release(sessionId: number): Promise<void> {
      const entry = sessions.get(sessionId);
      if (!entry) return;
      sessions.delete(sessionId);
      await entry.queue;
      await entry.session.release();
    },

    capabilities: () => (capabilities ??= probeCapabilities()),
  };
}
