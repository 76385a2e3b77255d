import { probeCapabilities } from '../../capabilities/probe.js';
import type { BackendName, EngineHost, RunResult, SessionInfo, SessionRequest } from '../../engine/engine-host.js';
import { tensor, type Feeds } from '../../engine/tensor.js';
import { RuntimeError } from '../../errors.js';

/** How a scripted model behaves on one call (`call` counts from 1 per model). */
export interface Behaviour {
  /** The call fails with this error code. */
  fails?: (call: number) => RuntimeError['code'] | null;
  /** Milliseconds the call takes. */
  delayMs?: (call: number) => number;
  /** What `y` is for input `x` on a backend (default: `x` unchanged). */
  output?: (x: Float32Array, backend: BackendName) => Float32Array;
}

/**
 * An engine host whose models behave as scripted, keyed by the text of their model file: they
 * echo (or transform) float32 input `x` into `y` on the first backend they are asked for, and fail
 * or take time on command. For health gate tests, where which release answers, and how, is the subject.
 */
export class ScriptedHost implements EngineHost {
  readonly behaviours = new Map<string, Behaviour>();
  /** Model file text of every session created, in order, with its backend. */
  readonly created: Array<{ model: string; backend: BackendName }> = [];
  readonly released: string[] = [];
  readonly runs: string[] = [];
  readonly #sessions = new Map<number, { model: string; backend: BackendName }>();
  readonly #calls = new Map<string, number>();
  #next = 1;

  async createSession(request: SessionRequest): Promise<SessionInfo> {
    const model = new TextDecoder().decode(request.bytes);
    const backend = request.backends[0]!;
    const id = this.#next++;
    this.#sessions.set(id, { model, backend });
    this.created.push({ model, backend });
    const spec = { dtype: 'float32' as const, dims: [null] };
    return { id, backend, signature: { inputs: [{ name: 'x', ...spec }], outputs: [{ name: 'y', ...spec }] }, skipped: [], createMs: 1 };
  }

  async run(sessionId: number, feeds: Feeds): Promise<RunResult> {
    const session = this.#sessions.get(sessionId);
    if (!session) throw new RuntimeError('disposed', `session ${sessionId} was released`);
    const call = (this.#calls.get(session.model) ?? 0) + 1;
    this.#calls.set(session.model, call);
    this.runs.push(session.model);
    const behaviour = this.behaviours.get(session.model) ?? {};
    const delay = behaviour.delayMs?.(call) ?? 0;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    const code = behaviour.fails?.(call);
    if (code) throw new RuntimeError(code, `${session.model} failed on call ${call} (scripted)`);
    const x = feeds.x!.data as Float32Array;
    const y = behaviour.output ? behaviour.output(x, session.backend) : Float32Array.from(x);
    return { outputs: { y: tensor('float32', y, [y.length]) }, backend: session.backend, events: [] };
  }

  async release(sessionId: number): Promise<void> {
    const session = this.#sessions.get(sessionId);
    if (session) this.released.push(session.model);
    this.#sessions.delete(sessionId);
  }

  capabilities = () => probeCapabilities();
}
