import { RuntimeError } from '../errors.js';
import type { BackendName, BackendOptions } from './backends.js';
import type { Engine, EngineSession, ModelFiles } from './engine.js';

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Picks the backend a session runs on, as onnxruntime's backend-impl does: backends are tried in
 * the caller's order, each is initialised once per engine, and a backend that failed (or whose
 * device was lost) is remembered and never tried again. When none can run the model, every
 * reason is reported together.
 */
export class BackendSelector {
  readonly #inits = new Map<Engine, Map<BackendName, Promise<void>>>();
  readonly #dead = new Map<BackendName, string>();

  /** Marks `backend` unusable for the rest of this host's life, e.g. after its WebGPU device was lost. */
  markDead(backend: BackendName, reason: string): void {
    this.#dead.set(backend, reason);
  }

  async open(
    engine: Engine,
    files: ModelFiles,
    backends: readonly BackendName[],
    options: BackendOptions,
    label: string,
  ): Promise<{ session: EngineSession; skipped: string[] }> {
    // Settings that are global to the library are checked on every load, not only the first.
    engine.configure(options);
    const skipped: string[] = [];
    let initialised = 0;
    let refusedFile = 0;
    for (const backend of backends) {
      const dead = this.#dead.get(backend);
      if (dead) {
        skipped.push(`[${backend}] ${dead}`);
        continue;
      }
      if (!engine.backends.includes(backend)) {
        skipped.push(`[${backend}] ${engine.name} has no ${backend} backend (it has ${engine.backends.join(', ')})`);
        continue;
      }
      try {
        await this.#init(engine, backend, options);
      } catch (error) {
        skipped.push(`[${backend}] ${reasonOf(error)}`);
        continue;
      }
      try {
        initialised++;
        return { session: await engine.createSession(files, backend, options), skipped };
      } catch (error) {
        if (error instanceof RuntimeError && error.code === 'backend_unavailable') {
          this.markDead(backend, error.message);
          initialised--;
        } else {
          refusedFile++;
        }
        skipped.push(`[${backend}] ${reasonOf(error)}`);
      }
    }
    // Every backend that started refused the file itself: the file is the problem, not the device.
    if (initialised > 0 && refusedFile === initialised) {
      throw new RuntimeError(
        'invalid_model',
        `${label} could not be loaded by ${engine.name} on any backend, so the file is corrupt or not a model ${engine.name} can read: ${skipped.join(', ')}`,
        { details: skipped },
      );
    }
    throw new RuntimeError('backend_unavailable', `no backend could run ${label}: ${skipped.join(', ')}`, { details: skipped });
  }

  #init(engine: Engine, backend: BackendName, options: BackendOptions): Promise<void> {
    let byBackend = this.#inits.get(engine);
    if (!byBackend) this.#inits.set(engine, (byBackend = new Map()));
    let init = byBackend.get(backend);
    if (!init) {
      init = engine.initBackend(backend, options);
      byBackend.set(backend, init);
    }
    return init;
  }
}
