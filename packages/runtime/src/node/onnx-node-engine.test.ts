import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tensor, type Feeds, type Outputs } from '../engine/tensor.js';
import { openFiles, realModels } from '../engine/testing/models.js';
import { sileroFeeds } from '../engine/testing/silero.js';
import { inlineHost } from '../host/inline-host.js';
import type { Model } from '../model.js';
import { nodeEngineLoaders } from './node-engines.js';
import { nodeOnnxEngine } from './onnx-node-engine.js';
import { workerThreadsHost } from './worker-threads-host.js';

// onnxruntime-node's native CPU kernels and onnxruntime-web's WASM SIMD kernels sum in different
// orders and fuse differently: Silero's outputs agree to this, not bit for bit.
const TOLERANCE = 1e-4;

const maxAbsDiff = (a: Outputs, b: Outputs) =>
  Math.max(...Object.keys(a).flatMap((name) => Array.from(a[name]!.data as Float32Array, (v, i) => Math.abs(v - (b[name]!.data as Float32Array)[i]!))));

/** Runs Silero over `frames` frames of a tone, feeding its state back as a streaming app does; returns every frame's outputs. */
async function stream(model: Model, frames: number): Promise<Outputs[]> {
  const results: Outputs[] = [];
  let state = sileroFeeds().state!;
  for (let i = 1; i <= frames; i++) {
    const feeds: Feeds = { ...sileroFeeds(i, i % 3 !== 0), state };
    const out = await model.run(feeds);
    results.push(out);
    state = tensor('float32', (out.stateN!.data as Float32Array).slice(), out.stateN!.dims);
  }
  return results;
}

describe('ONNX on onnxruntime-node (the `native` backend) in Node', () => {
  it('runs Silero VAD v5 natively with the same outputs as onnxruntime-web WASM, and reports native as the backend', async () => {
    const host = inlineHost({ engines: nodeEngineLoaders });
    const [native, wasm] = await Promise.all([
      openFiles(host, realModels.silero(), { name: 'vad', backends: ['native', 'wasm'] }),
      openFiles(host, realModels.silero(), { name: 'vad', backends: ['wasm'] }),
    ]);
    expect(native.backend).toBe('native');
    expect(native.skippedBackends).toEqual([]);
    expect(wasm.backend).toBe('wasm');
    expect(native.signature).toEqual(wasm.signature);
    const [a, b] = [await stream(native, 20), await stream(wasm, 20)];
    const diffs = a.map((out, i) => maxAbsDiff(out, b[i]!));
    expect(Math.max(...diffs)).toBeLessThan(TOLERANCE);
    // And they are two libraries, not one reported twice: identical kernels would agree bit for bit.
    expect(Math.max(...diffs)).toBeGreaterThan(0);
    // The comparison means something: speech frames and quiet frames give different probabilities.
    const probabilities = a.map((out) => (out.output!.data as Float32Array)[0]!);
    expect(Math.max(...probabilities) - Math.min(...probabilities)).toBeGreaterThan(0.01);
    await Promise.all([native.dispose(), wasm.dispose()]);
  });

  it('is what worker_threads hosts run by default, with the calling thread\'s outputs', async () => {
    const host = workerThreadsHost();
    try {
      const threaded = await openFiles(host, realModels.silero(), { name: 'vad', backends: ['native', 'wasm'] });
      const inline = await openFiles(inlineHost({ engines: nodeEngineLoaders }), realModels.silero(), { name: 'vad', backends: ['native'] });
      expect(threaded.backend).toBe('native');
      const [a, b] = [await stream(threaded, 5), await stream(inline, 5)];
      expect(Math.max(...a.map((out, i) => maxAbsDiff(out, b[i]!)))).toBeLessThan(TOLERANCE);
    } finally {
      host.terminate();
    }
  }, 60_000);

  it('skips native with the reason when onnxruntime-node is not installed, and runs on WASM', async () => {
    // A specifier Node cannot resolve: the same failure as an app without onnxruntime-node.
    const missing = 'onnxruntime-node-that-is-not-installed';
    const host = inlineHost({ engines: { onnx: { library: 'onnxruntime-missing', load: () => nodeOnnxEngine({ importNative: () => import(missing) }) } } });
    const model = await openFiles(host, realModels.silero(), { name: 'vad', backends: ['native', 'wasm'] });
    expect(model.backend).toBe('wasm');
    expect(model.skippedBackends).toEqual([
      expect.stringMatching(/^\[native\] onnxruntime-node is not installed; add it to the app \(npm i onnxruntime-node\) or leave "native" out of backends \(.*onnxruntime-node-that-is-not-installed/),
    ]);
    await expect(model.run(sileroFeeds())).resolves.toHaveProperty('output');
  });

  it('refuses a module that is not onnxruntime-node instead of running on it', async () => {
    const web = await import('onnxruntime-web');
    const engine = await nodeOnnxEngine({ importNative: async () => ({ ...web, listSupportedBackends: () => [{ name: 'cpu', bundled: true }] }) });
    await expect(engine.initBackend('native', {})).rejects.toThrow('the module imported as onnxruntime-node is not onnxruntime-node (env.versions.node is not set)');
  });

  it('reports a corrupt model as invalid_model with the native and WASM reasons', async () => {
    const bytes = new Uint8Array(realModels.silero().model.slice(0, 4000));
    const error = await openFiles(inlineHost({ engines: nodeEngineLoaders }), { format: 'onnx', model: bytes.buffer, weights: [] }, { name: 'vad', backends: ['native', 'wasm'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid_model', details: [expect.stringMatching(/^\[native\] /), expect.stringMatching(/^\[wasm\] /)] });
  });

  it('takes intraOpNumThreads and refuses an impossible one instead of correcting it', async () => {
    const host = inlineHost({ engines: nodeEngineLoaders });
    const one = await openFiles(host, realModels.silero(), { backends: ['native'], backendOptions: { native: { intraOpNumThreads: 1 } } });
    expect(one.backend).toBe('native');
    await expect(one.run(sileroFeeds())).resolves.toHaveProperty('stateN');
    const error = await openFiles(host, realModels.silero(), { backends: ['native'], backendOptions: { native: { intraOpNumThreads: 0.5 } } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'invalid_argument', message: 'native.intraOpNumThreads must be a positive integer; got 0.5' });
  });

  it('stays out of the browser import graph: nothing reachable from the main entry imports onnxruntime-node or src/node', () => {
    const src = resolve(dirname(fileURLToPath(import.meta.url)), '..');
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const code = readFileSync(file, 'utf8');
      // Static imports, re-exports and dynamic import() of relative or package specifiers.
      for (const [, specifier] of code.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'([^']+)'/g)) {
        if (specifier!.startsWith('onnxruntime-node')) offenders.push(`${file} imports ${specifier}`);
        if (!specifier!.startsWith('.')) continue;
        const target = resolve(dirname(file), specifier!.replace(/\.js$/, '.ts'));
        if (target.startsWith(resolve(src, 'node'))) offenders.push(`${file} imports ${specifier}`);
        visit(target);
      }
    };
    visit(resolve(src, 'index.ts'));
    expect(seen.size).toBeGreaterThan(30);
    expect(seen.has(resolve(src, 'engine/onnx-engine.ts'))).toBe(true);
    expect(offenders).toEqual([]);
  });
});
