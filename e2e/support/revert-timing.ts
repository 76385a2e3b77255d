import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { encodeGolden } from '@edgeloop/protocol';
import type { Page } from 'playwright-core';
import { goldenFrame } from '../health-page/page-api.js';

const require = createRequire(import.meta.url);

/** An update server as the browser tests see it: base URL, the key devices pin, admin headers for app `demo`. */
export interface AdminServer {
  url: string;
  publicKey: string;
  admin: Record<string, string>;
}

export const sileroFile = (version: 5 | 6) => require.resolve(`@ricky0123/vad-web/dist/silero_vad_v${version}.onnx`);

async function admin(server: AdminServer, method: string, path: string, body: BodyInit, type: string): Promise<void> {
  const response = await fetch(new URL(`v1/admin/apps/demo/${path}`, server.url), { method, body, headers: { 'Content-Type': type, ...server.admin } });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
}

/** Points `model`'s stable channel at `version` (what the next manifest offers every device). */
export const setChannel = (server: AdminServer, model: string, version: string) =>
  admin(server, 'PUT', `models/${model}/channels/stable`, JSON.stringify({ version }), 'application/json');

/**
 * Publishes Silero VAD v5 and v6 as `model` of app `demo` (v5 first, so it starts the stable
 * channel), v6 with the golden file given (e.g. {@link failingGolden}).
 */
export async function publishSilero(server: AdminServer, model: string, v6Golden: Uint8Array<ArrayBuffer> | null): Promise<void> {
  await admin(server, 'POST', `models/${model}/versions/5.0.0`, await readFile(sileroFile(5)), 'application/octet-stream');
  await admin(server, 'POST', `models/${model}/versions/6.0.0`, await readFile(sileroFile(6)), 'application/octet-stream');
  if (v6Golden) await addGolden(server, model, '6.0.0', v6Golden);
}

/** Adds a golden file to `version` of `model` (its default variant). */
export const addGolden = (server: AdminServer, model: string, version: string, golden: Uint8Array<ArrayBuffer>) =>
  admin(server, 'POST', `models/${model}/versions/${version}/variants/default/files/golden`, golden, 'application/octet-stream');

/** A golden file for Silero whose expected speech probability (0.9 ± 0.001) no real frame gives: it fails on every backend. */
export function failingGolden(): Uint8Array<ArrayBuffer> {
  const { input, state, sr } = goldenFrame();
  const golden = encodeGolden([
    {
      name: 'tone',
      inputs: { input: { dtype: 'float32', dims: [1, 576], data: input }, state: { dtype: 'float32', dims: [2, 1, 128], data: state }, sr: { dtype: 'int64', dims: [], data: sr } },
      outputs: { output: { dtype: 'float32', dims: [1, 1], data: Float32Array.of(0.9), tolerance: { maxAbs: 0.001 } } },
    },
  ]);
  return new TextEncoder().encode(JSON.stringify(golden));
}

export interface RevertTiming {
  /** device_revert_ms of each revert: from the failed golden check to the previous release's first answer. */
  samples: number[];
  p50: number;
  p95: number;
  max: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;

/**
 * Measures `device_revert_ms` in Chromium `runs` times: each run is a fresh device (its own
 * IndexedDB) that installs Silero v5, then gets v6 — whose golden check fails — as a trial with v5
 * loaded beside it; the time from the failed check to v5 answering its first call is what the
 * page's `model.health.revertMs` says. `page` must have e2e/health-page open; `model` is published
 * here the first time (Silero v5 and v6 with {@link failingGolden}).
 * @example
 * const { p95 } = await measureRevertTiming(page, { url, publicKey, admin }, { runs: 20 });
 */
export async function measureRevertTiming(page: Page, server: AdminServer, options: { runs: number; model?: string; prepared?: boolean }): Promise<RevertTiming> {
  const model = options.model ?? 'vadrevert';
  if (!options.prepared) await publishSilero(server, model, failingGolden());
  const samples: number[] = [];
  for (let i = 0; i < options.runs; i++) {
    const request = { serverUrl: server.url, publicKey: server.publicKey, model, dbName: `revert-timing-${model}-${i}-${Date.now()}`, backends: ['wasm' as const] };
    await setChannel(server, model, '5.0.0');
    const installed = await page.evaluate((r) => window.edgeloopHealth.load(r), request);
    if (!installed.ok || installed.version !== '5.0.0') throw new Error(`run ${i}: installing v5 gave ${JSON.stringify(installed)}`);
    await setChannel(server, model, '6.0.0');
    // The page answers its first call as soon as load() resolves, as an app would.
    const tried = await page.evaluate((r) => window.edgeloopHealth.load(r), { ...request, runAfterLoad: true });
    if (!tried.ok || tried.version !== '5.0.0' || tried.health.state !== 'reverted' || tried.health.revertMs === undefined) {
      throw new Error(`run ${i}: v6 was not reverted to v5 answering: ${JSON.stringify(tried)}`);
    }
    samples.push(tried.health.revertMs);
  }
  await page.evaluate(() => window.edgeloopHealth.dispose());
  const sorted = [...samples].sort((a, b) => a - b);
  return { samples, p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), max: sorted.at(-1)! };
}
