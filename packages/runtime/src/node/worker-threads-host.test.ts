import { describe, expect, it } from 'vitest';
import { tensor } from '../engine/tensor.js';
import { openFiles, realModels } from '../engine/testing/models.js';
import { sileroFeeds } from '../engine/testing/silero.js';
import { inlineHost } from '../host/inline-host.js';
import type { ModelEvent } from '../model.js';
import { sourceWorker } from './source-worker.js';
import { workerThreadsHost } from './worker-threads-host.js';

describe('worker_threads host (Node, Electron main, kiosks)', () => {
  it('runs Silero VAD in a worker thread with the same outputs as on the calling thread', async () => {
    const host = workerThreadsHost();
    try {
      const [threaded, inline] = await Promise.all([
        openFiles(host, realModels.silero(), { name: 'vad' }),
        openFiles(inlineHost(), realModels.silero(), { name: 'vad', backends: ['wasm'] }),
      ]);
      expect(threaded.backend).toBe('wasm');
      expect(threaded.signature).toEqual(inline.signature);
      for (const seed of [1, 2, 3]) {
        const [a, b] = await Promise.all([threaded.run(sileroFeeds(seed, true)), inline.run(sileroFeeds(seed, true))]);
        expect(a.output!.data).toEqual(b.output!.data);
        expect(a.stateN!.data).toEqual(b.stateN!.data);
      }
      // Errors cross the thread with their code and message.
      await threaded.dispose();
      await expect(host.run(1, sileroFeeds())).rejects.toMatchObject({ name: 'RuntimeError', code: 'disposed' });
      const corrupt = await openFiles(host, { format: 'onnx', model: new ArrayBuffer(64), weights: [] }, { name: 'bad' }).catch((e: unknown) => e);
      expect(corrupt).toMatchObject({ name: 'RuntimeError', code: 'invalid_model', details: [expect.stringMatching(/^\[webgpu\]/), expect.stringMatching(/^\[wasm\]/)] });
      expect((corrupt as Error).stack).toMatch(/backend-selector/);
    } finally {
      host.terminate();
    }
  }, 60_000);

  it('fails the calls in flight when the worker dies, then restarts it and recreates the session', async () => {
    const host = workerThreadsHost({ createWorker: () => sourceWorker(new URL('./testing/crash-worker-entry.ts', import.meta.url)) });
    const events: ModelEvent[] = [];
    try {
      const model = await openFiles(host, { format: 'onnx', model: new ArrayBuffer(8), weights: [] }, { name: 'fragile', backends: ['wasm'], onEvent: (e) => events.push(e) });
      const x = (v: number) => ({ x: tensor('float32', Float32Array.of(v), [1]) });
      expect((await model.run(x(2))).y!.data).toEqual(Float32Array.of(4));
      const dying = model.run(x(666));
      const queued = model.run(x(5));
      await expect(dying).rejects.toMatchObject({ code: 'worker', message: expect.stringMatching(/^the engine worker crashed \(the worker thread exited with code 3\); this call did not complete/) });
      await expect(queued).rejects.toMatchObject({ code: 'worker' });
      expect((await model.run(x(7))).y!.data).toEqual(Float32Array.of(14));
      expect(events).toEqual([{ type: 'worker-restarted', reason: 'the worker thread exited with code 3', model: 'fragile', version: '1.0.0' }]);
      expect(host.workersStarted).toBe(2);
    } finally {
      host.terminate();
    }
  }, 60_000);
});
