import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { inspectOnnx } from './onnx.js';

const require = createRequire(import.meta.url);
const sileroV5 = readFileSync(require.resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx'));

describe('inspectOnnx', () => {
  it('reads the signature of a real model (Silero VAD v5)', () => {
    const info = inspectOnnx(sileroV5);
    expect(info.irVersion).toBeGreaterThanOrEqual(3);
    expect(info.nodeCount).toBeGreaterThan(0);
    expect(info.signature.inputs).toEqual([
      { name: 'input', dtype: 'float32', dims: [null, null] },
      { name: 'state', dtype: 'float32', dims: [2, null, 128] },
      { name: 'sr', dtype: 'int64', dims: [] },
    ]);
    expect(info.signature.outputs.map((o) => o.name)).toEqual(['output', 'stateN']);
  });

  it.each([
    ['text', new TextEncoder().encode('this is not a model, just some text\n')],
    ['empty', new Uint8Array(0)],
    ['random bytes', Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)],
    ['a truncated model', sileroV5.subarray(0, 1000)],
  ])('refuses %s with a clear message', (_, bytes) => {
    expect(() => inspectOnnx(bytes)).toThrow(/the uploaded bytes are not an ONNX model: /);
  });
});
