import type { BackendName } from '../backends.js';
import type { Engine, EngineSession } from '../engine.js';
import { tensor } from '../tensor.js';

/**
 * An engine whose backends fail or lose their device on command, counting what the host asked of
 * it. Its sessions double their float32 input `x` into `y`, so results can be checked.
 */
export class FakeEngine implements Engine {
  readonly name = 'fake-engine';
  readonly backends: readonly BackendName[] = ['webgpu', 'wasm', 'cpu'];
  readonly inits: BackendName[] = [];
  readonly created: BackendName[] = [];
  runs = 0;
  /** Backends whose initialisation throws this reason. */
  readonly broken = new Map<BackendName, string>();
  /** Backends that refuse the file itself. */
  readonly refuseFile = new Set<BackendName>();
  readonly #lose = new Map<BackendName, Array<(reason: string) => void>>();

  configure(): void {}

  async initBackend(backend: BackendName): Promise<void> {
    this.inits.push(backend);
    const reason = this.broken.get(backend);
    if (reason) throw new Error(reason);
  }

  async createSession(_files: unknown, backend: BackendName): Promise<EngineSession> {
    if (this.refuseFile.has(backend)) throw new Error(`cannot parse the file on ${backend}`);
    this.created.push(backend);
    const listeners: Array<(reason: string) => void> = [];
    this.#lose.set(backend, [...(this.#lose.get(backend) ?? []), (reason) => listeners.forEach((l) => l(reason))]);
    return {
      backend,
      signature: { inputs: [{ name: 'x', dtype: 'float32', dims: [null] }], outputs: [{ name: 'y', dtype: 'float32', dims: [null] }] },
      run: async (feeds) => {
        this.runs++;
        const x = feeds.x!.data as Float32Array;
        return { y: tensor('float32', x.map((v) => v * 2), [x.length]) };
      },
      release: async () => {},
      onLost: (listener) => void listeners.push(listener),
    };
  }

  /** Simulates the browser losing `backend`'s GPU device. */
  loseDevice(backend: BackendName, reason: string): void {
    for (const notify of this.#lose.get(backend) ?? []) notify(reason);
  }
}
