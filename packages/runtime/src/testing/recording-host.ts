import { probeCapabilities } from '../capabilities/probe.js';
import type { EngineHost, RunResult, SessionInfo, SessionRequest } from '../engine/engine-host.js';
import type { Feeds } from '../engine/tensor.js';
import { RuntimeError } from '../errors.js';

/**
 * An engine host that runs nothing: it records the bytes each session was created from and
 * echoes inputs back. For tests of delivery and caching, where the engine is not the subject.
 */
export class RecordingHost implements EngineHost {
  readonly created: Uint8Array[] = [];
  readonly released: number[] = [];
  failNextRun: Error | undefined;
  /** Model files this host refuses as an engine refuses a corrupt file: with RuntimeError `invalid_model`. */
  readonly unreadable: Uint8Array[] = [];
  /** The model files it refused, in order. */
  readonly refused: Uint8Array[] = [];

  async createSession(request: SessionRequest): Promise<SessionInfo> {
    const bytes = new Uint8Array(request.bytes);
    if (this.unreadable.some((bad) => bad.length === bytes.length && bad.every((byte, i) => byte === bytes[i]))) {
      this.refused.push(bytes);
      throw new RuntimeError('invalid_model', `${request.label ?? 'the model'} could not be loaded by the recording host: its ${bytes.length}-byte file is marked unreadable`);
    }
    this.created.push(bytes);
    const spec = { dtype: 'float32' as const, dims: [null] };
    // It runs nothing, so it claims the backend that needs no device.
    return { id: this.created.length, backend: 'wasm', signature: { inputs: [{ name: 'x', ...spec }], outputs: [{ name: 'y', ...spec }] }, skipped: [], createMs: 0 };
  }

  async run(_sessionId: number, feeds: Feeds): Promise<RunResult> {
    const error = this.failNextRun;
    this.failNextRun = undefined;
    if (error) throw error;
    return { outputs: { y: feeds.x! }, backend: 'wasm', events: [] };
  }

  capabilities = () => probeCapabilities();

  async release(sessionId: number): Promise<void> {
    this.released.push(sessionId);
  }
}
