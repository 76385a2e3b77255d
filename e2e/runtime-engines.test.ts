import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/chromium.js';
import { openBenchPage, serveRuntimeBench, SWIFTSHADER_WEBGPU, type BenchSite } from './support/runtime-bench-site.js';

type Digest = Record<string, { dims: number[]; data: number[] }>;
const maxAbsDiff = (a: Digest, b: Digest) =>
  Math.max(...Object.keys(a).flatMap((name) => a[name]!.data.map((v, i) => Math.abs(v - b[name]!.data[i]!))));

// WebGPU and WASM kernels differ in summation order and fused ops: outputs agree to this, not bit for bit.
const TOLERANCE = 1e-3;

describe('runtime engines in Chromium (WebGPU via SwiftShader, WASM)', () => {
  let site: BenchSite;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    [site, browser] = await Promise.all([serveRuntimeBench(), launchChromium(SWIFTSHADER_WEBGPU)]);
    page = await browser.newPage();
    page.on('request', (request) => requests.push(new URL(request.url()).pathname));
    await openBenchPage(page, site.url);
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  it('probes capabilities once in the worker: the SwiftShader adapter, its features and limits, isolation', async () => {
    const caps = await page.evaluate(() => window.edgeloopBench.capabilities());
    expect(caps.environment).toBe('worker');
    expect(caps.crossOriginIsolated).toBe(true);
    expect(caps.webgpu).toMatchObject({ architecture: 'swiftshader', isFallbackAdapter: true });
    expect(caps.webgpu!.limits.maxBufferSize).toBeGreaterThan(0);
    expect(Array.isArray(caps.webgpu!.features)).toBe(true);
    expect(caps.wasmSimd).toBe(true);
  });

  it('Silero VAD (ONNX) gives the same outputs on WebGPU and WASM, and loads no TF.js', async () => {
    const result = await page.evaluate(async () => {
      const b = window.edgeloopBench;
      const gpu = await b.open('vad-gpu', 'silero', { backends: ['webgpu'] });
      const cpu = await b.open('vad-wasm', 'silero', { backends: ['wasm'] });
      return { gpu, cpu, a: await b.run('vad-gpu', 'silero'), b: await b.run('vad-wasm', 'silero') };
    });
    expect(result.gpu.backend).toBe('webgpu');
    expect(result.cpu.backend).toBe('wasm');
    expect(result.a.outputs.output!.dims).toEqual([1, 1]);
    expect(maxAbsDiff(result.a.outputs, result.b.outputs)).toBeLessThan(TOLERANCE);
    expect(requests.some((path) => path.includes('onnx-engine'))).toBe(true);
    expect(requests.filter((path) => /tfjs/.test(path))).toEqual([]);
  });

  it('MoveNet Lightning (TF.js graph) gives the same keypoints on WebGPU and WASM', async () => {
    const result = await page.evaluate(async () => {
      const b = window.edgeloopBench;
      const gpu = await b.open('pose-gpu', 'movenet', { backends: ['webgpu'], worker: 'own' });
      const cpu = await b.open('pose-wasm', 'movenet', { backends: ['wasm'], worker: 'own' });
      return { gpu, cpu, a: await b.run('pose-gpu', 'movenet'), b: await b.run('pose-wasm', 'movenet') };
    });
    expect(result.gpu.backend).toBe('webgpu');
    expect(result.cpu.backend).toBe('wasm');
    expect(result.a.outputs.Identity!.dims).toEqual([1, 1, 17, 3]);
    expect(maxAbsDiff(result.a.outputs, result.b.outputs)).toBeLessThan(TOLERANCE);
    expect(requests.some((path) => path.includes('tfjs-engine'))).toBe(true);
  });

  it('a model in its own worker is not blocked by a slow model in another', async () => {
    const order = await page.evaluate(async () => {
      const b = window.edgeloopBench;
      await b.open('ocr', 'ppocr', { backends: ['wasm'], worker: 'own' });
      await b.open('vad-own', 'silero', { backends: ['wasm'], worker: 'own' });
      const done: string[] = [];
      const slow = b.run('ocr', 'ppocr').then(() => done.push('ppocr'));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const fast = b.run('vad-own', 'silero', 3).then(() => done.push('silero'));
      await Promise.all([slow, fast]);
      return done;
    });
    expect(order).toEqual(['silero', 'ppocr']);
  });

  it('a worker that dies mid-call fails that call clearly, restarts, and the model runs again', async () => {
    const result = await page.evaluate(async () => {
      const b = window.edgeloopBench;
      await b.open('fragile', 'silero', { host: 'crash', backends: ['wasm'] });
      const x = (v: number) => ({ x: { dtype: 'float32' as const, dims: [1], data: Float32Array.of(v) } });
      const error = await b.runModel('fragile', x(666)).then(
        () => null,
        (e: { name: string; code: string; message: string }) => ({ name: e.name, code: e.code, message: e.message }),
      );
      const after = await b.runModel('fragile', x(21));
      return { error, after: Array.from(after.y!.data as Float32Array), events: b.events().filter((e) => e.model === 'silero') };
    });
    expect(result.error).toEqual({
      name: 'RuntimeError',
      code: 'worker',
      message: expect.stringMatching(/^the engine worker crashed \(.*simulated engine abort\); this call did not complete/),
    });
    expect(result.after).toEqual([42]);
    expect(result.events).toEqual([expect.objectContaining({ type: 'worker-restarted', reason: expect.stringContaining('simulated engine abort') })]);
  });
});
