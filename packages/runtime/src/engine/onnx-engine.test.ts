import { describe, expect, it } from 'vitest';
import { RuntimeError } from '../errors.js';
import { inlineHost } from '../host/inline-host.js';
import { tensor } from './tensor.js';
import { openFiles, realModels } from './testing/models.js';
import { sileroFeeds } from './testing/silero.js';

describe('ONNX engine on the calling thread (Node, real Silero VAD v5)', () => {
  it('exposes the signature, skips WebGPU with its reason, and runs on WASM', async () => {
    const model = await openFiles(inlineHost(), realModels.silero(), { name: 'vad' });
    expect(model.backend).toBe('wasm');
    expect(model.skippedBackends).toEqual([expect.stringMatching(/^\[webgpu\] navigator\.gpu is not defined/)]);
    expect(model.signature.inputs).toEqual([
      { name: 'input', dtype: 'float32', dims: [null, null] },
      { name: 'state', dtype: 'float32', dims: [2, null, 128] },
      { name: 'sr', dtype: 'int64', dims: [] },
    ]);
    expect(model.outputNames).toEqual(['output', 'stateN']);
    const out = await model.run(sileroFeeds());
    expect(out.output).toMatchObject({ dtype: 'float32', dims: [1, 1] });
    const p = (out.output!.data as Float32Array)[0]!;
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThanOrEqual(1);
    expect(out.stateN!.dims).toEqual([2, 1, 128]);
    await model.dispose();
  });

  it('rejects a bad input before the engine, naming what was expected and given', async () => {
    const model = await openFiles(inlineHost(), realModels.silero(), { name: 'vad', backends: ['wasm'] });
    const feeds = sileroFeeds();
    const bad = (patch: Record<string, unknown>) => model.run({ ...feeds, ...patch } as never);
    await expect(bad({ state: tensor('float32', new Float32Array(128), [1, 128]) })).rejects.toThrow(
      "model \"vad\" input 'state' must be float32[2,?,128], got float32[1,128]",
    );
    await expect(bad({ sr: tensor('int32', Int32Array.of(16000), []) })).rejects.toThrow("input 'sr' must be int64[], got int32[]");
    await expect(bad({ sr: undefined, rate: feeds.sr })).rejects.toThrow(/takes inputs 'input': float32\[\?,\?\].*; missing 'sr'; unknown 'rate'/);
    await expect(bad({ input: { dtype: 'float32', dims: [1, 576], data: new Float32Array(575) } })).rejects.toThrow(
      "input 'input' is float32[1,576], which is 576 elements, but its data has 575",
    );
    await expect(bad({ input: { dtype: 'float32', dims: [1, 576], data: new Float64Array(576) } })).rejects.toThrow(
      "input 'input' is float32, so its data must be a Float32Array; got Float64Array",
    );
    // The model still works after refusing bad calls.
    await expect(model.run(feeds)).resolves.toHaveProperty('output');
  });

  it('runs concurrent calls on one model in the order they were made', async () => {
    const model = await openFiles(inlineHost(), realModels.silero(), { backends: ['wasm'] });
    const sequential = [];
    for (let i = 1; i <= 6; i++) sequential.push((await model.run(sileroFeeds(i, true))).output!.data[0]);
    const finished: number[] = [];
    const concurrent = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) => model.run(sileroFeeds(i, true)).then((out) => (finished.push(i), out.output!.data[0]))),
    );
    expect(finished).toEqual([1, 2, 3, 4, 5, 6]);
    expect(concurrent).toEqual(sequential);
  });

  it('refuses calls after dispose, clearly', async () => {
    const model = await openFiles(inlineHost(), realModels.silero(), { name: 'vad', backends: ['wasm'] });
    await model.dispose();
    expect(model.disposed).toBe(true);
    const error = await model.run(sileroFeeds()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: 'disposed', message: 'model "vad" was disposed; load it again to run it' });
  });

  it('reports a corrupt model file as invalid_model, with each backend\'s reason', async () => {
    const bytes = new Uint8Array(realModels.silero().model.slice(0, 4000));
    const error = await openFiles(inlineHost(), { format: 'onnx', model: bytes.buffer, weights: [] }, { name: 'vad' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid_model', message: expect.stringMatching(/model "vad" 1\.0\.0 could not be loaded by onnxruntime-web on any backend.*\[webgpu\].*\[wasm\]/) });
  });

  it('refuses an impossible WASM thread count instead of correcting it', async () => {
    const error = await openFiles(inlineHost(), realModels.silero(), { backends: ['wasm'], backendOptions: { wasm: { numThreads: 0 } } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid_argument', message: 'wasm.numThreads must be a positive integer; got 0' });
  });
});
