import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { serveViteBuild, type Site } from './vite-site.js';

/** Flags that give headless Chromium a WebGPU adapter on the CPU (SwiftShader): correct, slow. */
export const SWIFTSHADER_WEBGPU = ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'];

export type BenchSite = Site;

/** Builds bench/runtime with Vite as an app would ship it and serves it on loopback (its config sets COOP/COEP). */
export function serveRuntimeBench(): Promise<BenchSite> {
  return serveViteBuild(resolve(import.meta.dirname, '../../bench/runtime'));
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
