import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/chromium.js';
import { openBenchPage, serveRuntimeBench, type BenchSite } from './support/runtime-bench-site.js';

type Digest = Record<string, { dims: number[]; data: number[] }>;
const maxAbsDiff = (a: Digest, b: Digest) =>
  Math.max(...Object.keys(a).flatMap((name) => a[name]!.data.map((v, i) => Math.abs(v - b[name]!.data[i]!))));

// WebGL shaders and WASM kernels differ in summation order (and WebGL in texture packing): MoveNet's
// keypoints agree to this, the same bound as WebGPU vs WASM in runtime-engines.test.ts.
const TOLERANCE = 1e-3;

/**
 * TF.js on WebGL in headless Chromium. With `--disable-gpu` Chromium still gives WebGL2 through
 * ANGLE on SwiftShader (Vulkan on the CPU), so the backend really runs; `--disable-webgl` takes it
 * away, and the model must then move on to the next backend and say why.
 */
describe('TF.js WebGL backend in Chromium', () => {
  let site: BenchSite;
  const browsers: Browser[] = [];
  const open = async (args: string[]) => {
    const browser = await launchChromium(args);
    browsers.push(browser);
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(new URL(request.url()).pathname));
    await openBenchPage(page, site.url);
    return { page, requests };
  };

  /** The requested scripts that hold tfjs-backend-webgl (Vite names its chunks `dist-*.js`, so look inside). */
  const webglChunks = async (paths: string[]) => {
    const scripts = [...new Set(paths.filter((path) => path.endsWith('.js')))];
    const texts = await Promise.all(scripts.map(async (path) => (await fetch(new URL(path, site.url))).text()));
    // A flag only tfjs-backend-webgl registers.
    return scripts.filter((_, i) => texts[i]!.includes('WEBGL_CPU_FORWARD'));
  };

  beforeAll(async () => {
    site = await serveRuntimeBench();
  });
  afterAll(async () => {
    await Promise.all(browsers.map((browser) => browser.close()));
    await site?.close();
  });

  it('MoveNet Lightning (TF.js graph) runs on WebGL (SwiftShader) with the same keypoints as on WASM', async () => {
    const { page, requests } = await open([]);
    const renderer = await rendererOf(page);
    expect(renderer).toMatch(/SwiftShader/);
    const beforeWebgl = requests.length;
    const result = await page.evaluate(async () => {
      const b = window.edgeloopBench;
      const gl = await b.open('pose-gl', 'movenet', { backends: ['webgl'], worker: 'own' });
      const cpu = await b.open('pose-wasm', 'movenet', { backends: ['wasm'], worker: 'own' });
      const a = await b.run('pose-gl', 'movenet', 5);
      return { gl, cpu, a, b: await b.run('pose-wasm', 'movenet', 5) };
    });
    expect(result.gl).toMatchObject({ backend: 'webgl', skipped: [] });
    expect(result.a.backend).toBe('webgl');
    expect(result.cpu.backend).toBe('wasm');
    expect(result.a.outputs.Identity!.dims).toEqual([1, 1, 17, 3]);
    const diff = maxAbsDiff(result.a.outputs, result.b.outputs);
    expect(diff).toBeLessThan(TOLERANCE);
    // Two backends really ran: WebGL's float arithmetic does not reproduce WASM's bit for bit.
    expect(diff).toBeGreaterThan(0);
    // The WebGL kernels are their own chunk, fetched only once a model asked for WebGL.
    expect(await webglChunks(requests.slice(0, beforeWebgl))).toEqual([]);
    expect((await webglChunks(requests.slice(beforeWebgl))).length).toBeGreaterThan(0);
    console.info(`MoveNet WebGL (SwiftShader) vs WASM: max |diff| ${diff.toExponential(2)}, median ${result.a.medianMs.toFixed(1)} ms vs ${result.b.medianMs.toFixed(1)} ms`);
  });

  it('without WebGL, a model that asks for webgl moves to WASM and reports why in skippedBackends', async () => {
    // With --disable-gpu, this leaves Chromium no WebGL at all. (--disable-webgl would not do:
    // Chromium 156 still gives OffscreenCanvas in workers a WebGL context under it.)
    const { page, requests } = await open(['--disable-software-rasterizer']);
    expect(await rendererOf(page)).toBeNull();
    const result = await page.evaluate(async () => {
      const b = window.edgeloopBench;
      const opened = await b.open('pose', 'movenet', { backends: ['webgl', 'wasm'], worker: 'own' });
      return { opened, run: await b.run('pose', 'movenet') };
    });
    expect(result.opened.backend).toBe('wasm');
    expect(result.opened.skipped).toEqual(['[webgl] this browser gives no WebGL context (WebGL disabled, blocklisted GPU, or no software fallback)']);
    expect(result.run.backend).toBe('wasm');
    expect(result.run.outputs.Identity!.dims).toEqual([1, 1, 17, 3]);
    // A backend that cannot run costs no download.
    expect(await webglChunks(requests)).toEqual([]);
  });
});

/** What a worker's OffscreenCanvas reports as its WebGL2 renderer, or null without WebGL2. */
function rendererOf(page: Page): Promise<string | null> {
  return page.evaluate(async () => {
    const source = `const gl = new OffscreenCanvas(1, 1).getContext('webgl2');
      const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
      postMessage(gl ? String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)) : null);`;
    const worker = new Worker(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
    const renderer = await new Promise<string | null>((resolve) => (worker.onmessage = (event) => resolve(event.data as string | null)));
    worker.terminate();
    return renderer;
  });
}
