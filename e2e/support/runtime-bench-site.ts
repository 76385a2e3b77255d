import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { build, preview } from 'vite';

/** Flags that give headless Chromium a WebGPU adapter on the CPU (SwiftShader): correct, slow. */
export const SWIFTSHADER_WEBGPU = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

export interface BenchSite {
  url: string;
  close(): Promise<void>;
}

/** Builds bench/runtime with Vite as an app would ship it and serves it on loopback with COOP/COEP. */
export async function serveRuntimeBench(): Promise<BenchSite> {
  const root = resolve(import.meta.dirname, '../../bench/runtime');
  const configFile = join(root, 'vite.config.ts');
  const outDir = await mkdtemp(join(tmpdir(), 'edgeloop-bench-'));
  await build({ root, configFile, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const server = await preview({ root, configFile, logLevel: 'error', build: { outDir }, preview: { host: '127.0.0.1', port: 0, strictPort: false } });
  const address = server.httpServer.address();
  if (address === null || typeof address === 'string') throw new Error('the bench preview server has no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    async close() {
      await server.close();
      await rm(outDir, { recursive: true, force: true });
    },
  };
}

/** Opens the bench page and waits until `window.edgeloopBench` is ready. */
export async function openBenchPage(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === '1');
}

type Digest = Record<string, { dims: number[]; data: number[] }>;
type Key = 'silero' | 'movenet' | 'ppocr';

/** What bench/runtime/main.ts puts on `window` (that page is built by Vite, outside this tsconfig). */
export interface RuntimeBench {
  open(id: string, key: Key, options?: { host?: 'worker' | 'main' | 'crash'; backends?: string[]; worker?: 'shared' | 'own' }): Promise<{ backend: string; skipped: string[]; ms: number }>;
  run(id: string, key: Key, times?: number): Promise<{ medianMs: number; outputs: Digest; backend: string }>;
  runModel(id: string, feeds: Record<string, { dtype: 'float32'; dims: number[]; data: Float32Array }>): Promise<Record<string, { data: ArrayLike<number> }>>;
  events(): Array<{ type: string; model: string; reason: string }>;
  capabilities(): Promise<import('@edgeloop/runtime').Capabilities>;
  compare(key: Key, runs: number): Promise<{ runtimeMs: number; rawMs: number }>;
  ttfi(key: Key, source: 'memory' | 'cache'): Promise<number>;
  longestTask(key: Key, runs: number): Promise<{ longestMs: number; longTasks: number }>;
}

declare global {
  interface Window {
    edgeloopBench: RuntimeBench;
  }
}
