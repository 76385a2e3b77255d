import type { EngineHost, SessionRequest } from '../engine/engine-host.js';
import type { Feeds, Outputs } from '../engine/tensor.js';

/**
 * An engine host that runs nothing: it records the bytes each session was created from and
 * echoes inputs back. For tests of delivery and caching, where the engine is not the subject.
 */
export class RecordingHost implements EngineHost {
  readonly created: Uint8Array[] = [];
  readonly released: number[] = [];
  failNextRun: Error | undefined;

  async createSession(request: SessionRequest) {
    this.created.push(new Uint8Array(request.bytes));
    return { id: this.created.length, backend: request.backends[0]!, inputNames: ['x'], outputNames: ['y'], createMs: 0 };
  }

  async run(_sessionId: number, feeds: Feeds): Promise<Outputs> {
    const error = this.failNextRun;
    this.failNextRun = undefined;
    if (error) throw error;
    return { y: feeds.x! };
  }

  async release(sessionId: number): Promise<void> {
    this.released.push(sessionId);
  }
}
