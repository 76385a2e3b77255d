import { transfer } from 'comlink';
import type { EngineHost, HostEvent, RunResult, SessionInfo, SessionRequest } from '../engine/engine-host.js';
import { transferablesOf, type Feeds } from '../engine/tensor.js';
import { RuntimeError } from '../errors.js';
import { installErrorTransfer } from './error-transfer.js';
import { WorkerChannel, type SpawnedWorker } from './worker-channel.js';

export interface RemoteHostOptions {
  /** Starts one worker that serves {@link serveEngineHost}. */
  spawn: () => SpawnedWorker;
  /** Transfer input buffers to the worker instead of copying them (the caller's arrays detach). */
  transferInputs?: boolean;
  /**
   * Keep a copy of each model's bytes on this thread so a session survives a worker crash: the
   * worker is restarted and the session recreated at the next call. Default true; set false to
   * save the memory, and crashed sessions then fail with code `worker` until loaded again.
   */
  recoverSessions?: boolean;
}

export interface RemoteEngineHost extends EngineHost {
  terminate(): void;
  /** Workers started so far, restarts included (for tests and diagnostics). */
  readonly workersStarted: number;
}

interface RemoteSession {
  channel: WorkerChannel;
  remoteId: number;
  own: boolean;
  request: SessionRequest | null;
}

/**
 * Runs engines in workers: one shared worker by default, or one per session when the request asks
 * for `worker: 'own'`. Platform-neutral; the browser and Node adapters only say how to spawn.
 */
export function remoteHost(options: RemoteHostOptions): RemoteEngineHost {
  installErrorTransfer();
  const recover = options.recoverSessions ?? true;
  const sessions = new Map<number, RemoteSession>();
  const restarts = new Map<number, Promise<HostEvent>>();
  let shared: WorkerChannel | undefined;
  let started = 0;
  let nextId = 1;
  let terminated = false;

  const spawn = () => {
    if (terminated) throw new RuntimeError('disposed', 'the runtime was disposed; create a new one');
    started++;
    return new WorkerChannel(options.spawn());
  };
  const sharedChannel = () => (shared && shared.crash === null ? shared : (shared = spawn()));
  const copyOf = (request: SessionRequest): SessionRequest => ({ ...request, bytes: request.bytes.slice(0), weights: (request.weights ?? []).map((w) => w.slice(0)) });
  const transferOf = (request: SessionRequest) => transfer(request, [request.bytes, ...(request.weights ?? [])]);

  /** After a crash: a new worker, the session recreated in it from the kept bytes. */
  function restart(id: number, session: RemoteSession): Promise<HostEvent> {
    let pending = restarts.get(id);
    if (!pending) {
      const reason = session.channel.crash!;
      pending = (async (): Promise<HostEvent> => {
        if (!session.request) throw new RuntimeError('worker', `the engine worker crashed (${reason}) and this model's bytes were not kept (recoverSessions: false); load it again`);
        const channel = session.own ? spawn() : sharedChannel();
        const info = await channel.call((remote) => remote.createSession(transferOf(copyOf(session.request!))));
        Object.assign(session, { channel, remoteId: info.id });
        return { type: 'worker-restarted', reason };
      })().finally(() => restarts.delete(id));
      restarts.set(id, pending);
    }
    return pending;
  }

  return {
    get workersStarted() {
      return started;
    },

    async createSession(request: SessionRequest): Promise<SessionInfo> {
      const own = request.worker === 'own';
      const channel = own ? spawn() : sharedChannel();
      const kept = recover ? copyOf(request) : null;
      try {
        const info = await channel.call((remote) => remote.createSession(transferOf(request)));
        const id = nextId++;
        sessions.set(id, { channel, remoteId: info.id, own, request: kept });
        return { ...info, id };
      } catch (error) {
        if (own) channel.terminate();
        throw error;
      }
    },

    async run(sessionId: number, feeds: Feeds): Promise<RunResult> {
      const session = sessions.get(sessionId);
      if (!session) throw new RuntimeError('disposed', `session ${sessionId} was released; load the model again to run it`);
      const events = session.channel.crash !== null ? [await restart(sessionId, session)] : [];
      const transferables = options.transferInputs ? transferablesOf(feeds) : [];
      const result = await session.channel.call((remote) => remote.run(session.remoteId, transfer(feeds, transferables)));
      return events.length > 0 ? { ...result, events: [...events, ...result.events] } : result;
    },

    async release(sessionId: number): Promise<void> {
      const session = sessions.get(sessionId);
      if (!session) return;
      sessions.delete(sessionId);
      if (session.channel.crash !== null) return;
      if (session.own) return session.channel.terminate();
      await session.channel.call((remote) => remote.release(session.remoteId));
    },

    capabilities: () => sharedChannel().call((remote) => remote.capabilities()),

    terminate() {
      terminated = true;
      const channels = new Set([...sessions.values()].map((s) => s.channel));
      if (shared) channels.add(shared);
      for (const channel of channels) channel.terminate();
      sessions.clear();
    },
  };
}
