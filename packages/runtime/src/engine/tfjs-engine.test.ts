import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { inlineHost } from '../host/inline-host.js';
import { tensor } from './tensor.js';
import { openFiles, realModels } from './testing/models.js';

/** A deterministic 192×192 RGB image: smooth gradients, as int32 like MoveNet wants. */
function image(): Int32Array {
  const data = new Int32Array(192 * 192 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37 + Math.floor(i / 576) * 11) % 256;
  return data;
}

describe('TF.js engine on the calling thread (Node)', () => {
  it('runs MoveNet Lightning (graph model, real weights) on WASM and matches the CPU backend', async () => {
    const host = inlineHost();
    const wasm = await openFiles(host, realModels.movenet(), { name: 'pose', backends: ['webgpu', 'wasm'] });
    expect(wasm.backend).toBe('wasm');
    expect(wasm.signature).toEqual({
      inputs: [{ name: 'input', dtype: 'int32', dims: [1, 192, 192, 3] }],
      outputs: [{ name: 'Identity', dtype: 'float32', dims: [1, 1, 17, 3] }],
    });
    const feeds = { input: tensor('int32', image(), [1, 192, 192, 3]) };
    const a = await wasm.run(feeds);
    expect(a.Identity!.dims).toEqual([1, 1, 17, 3]);
    const cpu = await openFiles(host, realModels.movenet(), { backends: ['cpu'] });
    expect(cpu.backend).toBe('cpu');
    const b = await cpu.run(feeds);
    const [x, y] = [a.Identity!.data as Float32Array, b.Identity!.data as Float32Array];
    const maxDiff = Math.max(...x.map((v, i) => Math.abs(v - y[i]!)));
    expect(maxDiff).toBeLessThan(1e-3);
    // Keypoint scores are probabilities.
    for (let k = 0; k < 17; k++) expect(x[k * 3 + 2]).toBeGreaterThanOrEqual(0);
    await expect(wasm.run({ input: tensor('float32', new Float32Array(192 * 192 * 3), [1, 192, 192, 3]) })).rejects.toThrow(
      "input 'input' must be int32[1,192,192,3], got float32[1,192,192,3]",
    );
  }, 60_000);

  it('skips WebGL where there is no canvas (Node) with the reason, and runs on the next backend', async () => {
    const model = await openFiles(inlineHost(), realModels.movenet(), { name: 'pose', backends: ['webgl', 'cpu'] });
    expect(model.backend).toBe('cpu');
    expect(model.skippedBackends).toEqual(['[webgl] WebGL needs a canvas, and neither OffscreenCanvas nor document exists here']);
  }, 60_000);

  it('loads a layers model from its model.json and weights and predicts like the model it was saved from', async () => {
    await tf.setBackend('cpu');
    const original = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [4], activation: 'tanh', name: 'hidden' })] });
    let saved: tf.io.ModelArtifacts | undefined;
    await original.save(tf.io.withSaveHandler(async (artifacts) => ((saved = artifacts), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
    const json = { format: 'layers-model', modelTopology: saved!.modelTopology, weightsManifest: [{ paths: ['w.bin'], weights: saved!.weightSpecs }] };
    const model = await openFiles(
      inlineHost(),
      { format: 'tfjs-layers', model: new TextEncoder().encode(JSON.stringify(json)).buffer as ArrayBuffer, weights: [saved!.weightData as ArrayBuffer] },
      { backends: ['cpu'] },
    );
    expect(model.signature).toEqual({
      inputs: [{ name: 'hidden_input', dtype: 'float32', dims: [null, 4] }],
      outputs: [{ name: 'hidden', dtype: 'float32', dims: [null, 3] }],
    });
    const input = Float32Array.of(0.1, -0.2, 0.3, 0.4, 1, 2, 3, 4);
    const out = await model.run({ hidden_input: tensor('float32', input, [2, 4]) });
    const expected = await (original.predict(tf.tensor(input, [2, 4])) as tf.Tensor).data();
    expect(out.hidden!.dims).toEqual([2, 3]);
    expect(Array.from(out.hidden!.data as Float32Array)).toEqual(Array.from(expected));
  });

  it('refuses weights that do not add up to the weightsManifest', async () => {
    const { model, weights } = realModels.movenet();
    const error = await openFiles(inlineHost(), { format: 'tfjs-graph', model, weights: [weights[0]!.slice(0, 1000)] }, { name: 'pose', backends: ['cpu'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid_model', message: expect.stringContaining('the TF.js weightsManifest needs 4650216 bytes of weights; the release has 1000 in 1 file(s)') });
  });
});
