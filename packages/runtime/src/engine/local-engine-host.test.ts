import { describe, expect, it } from 'vitest';
import { inlineHost } from '../host/inline-host.js';
import type { ModelEvent } from '../model.js';
import { tensor } from './tensor.js';
import { FakeEngine } from './testing/fake-engine.js';
import { openFiles } from './testing/models.js';

const files = { format: 'onnx' as const, model: new ArrayBuffer(8), weights: [] };
const hostWith = (engine: FakeEngine) => inlineHost({ engines: { onnx: { library: 'fake', load: async () => engine } } });
const x = (...values: number[]) => ({ x: tensor('float32', Float32Array.from(values), [values.length]) });

describe('backend selection and recovery in the engine host', () => {
  it('initialises each backend once, remembers failures, and reports them all together', async () => {
    const engine = new FakeEngine();
    engine.broken.set('webgpu', 'no adapter');
    engine.broken.set('wasm', 'wasm blocked by CSP');
    const host = hostWith(engine);
    const first = await openFiles(host, files, { name: 'a', backends: ['webgpu', 'wasm', 'cpu'] });
    expect(first.backend).toBe('cpu');
    expect(first.skippedBackends).toEqual(['[webgpu] no adapter', '[wasm] wasm blocked by CSP']);
    await openFiles(host, files, { name: 'b', backends: ['webgpu', 'wasm', 'cpu'] });
    expect(engine.inits).toEqual(['webgpu', 'wasm', 'cpu']);

    const error = await openFiles(host, files, { name: 'c', backends: ['webgpu', 'wasm'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'backend_unavailable',
      message: 'no backend could run model "c" 1.0.0: [webgpu] no adapter, [wasm] wasm blocked by CSP',
      details: ['[webgpu] no adapter', '[wasm] wasm blocked by CSP'],
    });
    expect(engine.inits).toHaveLength(3);
  });

  it('calls a file every started backend refuses invalid_model, not a device problem', async () => {
    const engine = new FakeEngine();
    engine.broken.set('webgpu', 'no adapter');
    engine.refuseFile.add('wasm');
    const error = await openFiles(hostWith(engine), files, { name: 'bad', backends: ['webgpu', 'wasm'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid_model', message: expect.stringContaining('[webgpu] no adapter, [wasm] cannot parse the file on wasm') });
  });

  it('fails clearly for a format no installed engine runs', async () => {
    const error = await openFiles(inlineHost(), { format: 'tflite' as never, model: new ArrayBuffer(4), weights: [] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unsupported_format', message: expect.stringMatching(/^no engine can run format "tflite"; this runtime runs "onnx", "tfjs-graph", "tfjs-layers"/) });
  });

  it('after a device loss, the next call recreates the session on the next backend and reports it', async () => {
    const engine = new FakeEngine();
    const events: ModelEvent[] = [];
    const host = hostWith(engine);
    const model = await openFiles(host, files, { name: 'pose', backends: ['webgpu', 'wasm'], onEvent: (e) => events.push(e) });
    expect(model.backend).toBe('webgpu');
    expect((await model.run(x(1, 2))).y!.data).toEqual(Float32Array.of(2, 4));
    engine.loseDevice('webgpu', 'WebGPU device lost (unknown): GPU reset');
    expect((await model.run(x(3))).y!.data).toEqual(Float32Array.of(6));
    expect(model.backend).toBe('wasm');
    expect(engine.created).toEqual(['webgpu', 'wasm']);
    expect(events).toEqual([{ type: 'backend-lost', from: 'webgpu', to: 'wasm', reason: 'WebGPU device lost (unknown): GPU reset', model: 'pose', version: '1.0.0' }]);

    // The lost backend is remembered: a later model does not try it again.
    const next = await openFiles(host, files, { backends: ['webgpu', 'wasm'] });
    expect(next.backend).toBe('wasm');
    expect(next.skippedBackends).toEqual(['[webgpu] WebGPU device lost (unknown): GPU reset']);
  });

  it('fails with backend_lost when no later backend is allowed', async () => {
    const engine = new FakeEngine();
    const model = await openFiles(hostWith(engine), files, { name: 'only-gpu', backends: ['webgpu'] });
    engine.loseDevice('webgpu', 'WebGPU device lost (destroyed)');
    await expect(model.run(x(1))).rejects.toMatchObject({
      code: 'backend_lost',
      message: 'model "only-gpu" 1.0.0 lost its webgpu backend (WebGPU device lost (destroyed)) and no later backend is allowed; load the model again',
    });
  });

  it('never reaches the engine with a call that fails validation', async () => {
    const engine = new FakeEngine();
    const model = await openFiles(hostWith(engine), files, { backends: ['wasm'] });
    await expect(model.run({ x: tensor('int32', Int32Array.of(1), [1]) })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(model.run({ y: tensor('float32', Float32Array.of(1), [1]) })).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(engine.runs).toBe(0);
  });
});
