import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoState } from '../demo/src/main.js';
import { launchChromium } from './support/chromium.js';
import { serveDemo, type DemoSite } from './support/demo-site.js';
import { startTestServer, type TestUpdateServer } from './support/update-server.js';

// Frames are 32 ms. The clip is 1.5 s of silence, ~4.5 s of espeak-ng speech, 1.5 s of silence.
const FRAME_S = 512 / 16000;
const framesBetween = (probabilities: number[], from: number, to: number) =>
  probabilities.filter((_, i) => i * FRAME_S >= from && (i + 1) * FRAME_S <= to);
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

async function demoResult(page: Page): Promise<DemoState> {
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 120_000 });
  return page.evaluate(() => window.edgeloopDemo);
}

describe('demo in Chromium: the whole loop', () => {
  let updates: TestUpdateServer;
  let site: DemoSite;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    [updates, site, browser] = await Promise.all([startTestServer(), serveDemo(), launchChromium()]);
    context = await browser.newContext();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await site?.close();
    await updates?.dispose();
  });

  it('downloads, verifies and runs Silero VAD in a worker, then runs it from IndexedDB with the server stopped', async () => {
    const page = await context.newPage();
    const workers: string[] = [];
    page.on('worker', (worker) => workers.push(worker.url()));
    await page.goto(`${site.url}?server=${encodeURIComponent(updates.server.url)}&key=${encodeURIComponent(updates.server.publicKey)}`);
    const first = await demoResult(page);
    expect(first.error).toBeUndefined();
    expect(first).toMatchObject({ state: 'done', source: 'network', backend: 'wasm', version: '5.0.0' });
    expect(workers.length).toBeGreaterThan(0);

    const probabilities = first.probabilities!;
    expect(probabilities.length).toBe(Math.floor(121194 / 512));
    // Real VAD output: speech scores high, the silence around it low.
    expect(mean(framesBetween(probabilities, 4.0, 5.5))).toBeGreaterThan(0.9);
    expect(Math.max(...framesBetween(probabilities, 0, 1.4))).toBeLessThan(0.1);
    expect(Math.max(...framesBetween(probabilities, 6.3, 7.5))).toBeLessThan(0.1);

    // Telemetry: the page flushes, the server counts every inference.
    await page.click('#flush');
    await page.waitForFunction(() => /sent \d+ model summaries/.test(document.getElementById('telemetry')?.textContent ?? ''));
    const summary = (await (await fetch(new URL('v1/admin/apps/demo/telemetry/summary', updates.server.url), { headers: updates.admin })).json()) as {
      models: Array<{ model: string; version: string; backend: string; inferences: number; reports: number }>;
    };
    expect(summary.models).toEqual([
      expect.objectContaining({ model: 'vad', version: '5.0.0', backend: 'wasm', inferences: probabilities.length, reports: 1 }),
    ]);

    // The backend benchmark reports what really ran: WASM here; WebGPU has no adapter without flags.
    await page.click('#bench');
    await page.waitForFunction(() => window.edgeloopDemo.benchmark !== undefined, null, { timeout: 120_000 });
    const bench = (await page.evaluate(() => window.edgeloopDemo.benchmark))!;
    expect(bench[0]).toMatchObject({ asked: 'wasm', ran: 'wasm', frames: probabilities.length });
    expect(bench[0]!.medianMs).toBeGreaterThan(0);
    expect(bench[1]!.asked).toBe('webgpu');
    expect(bench[1]!.ran === 'webgpu' || (bench[1]!.ran === null && bench[1]!.note !== null)).toBe(true);

    // Offline: the update server is gone; the page reloads and runs the cached release.
    await updates.stop();
    await page.reload();
    const offline = await demoResult(page);
    expect(offline.error).toBeUndefined();
    expect(offline).toMatchObject({ state: 'done', source: 'cache', backend: 'wasm', version: '5.0.0' });
    expect(offline.probabilities!.length).toBe(probabilities.length);
    offline.probabilities!.forEach((p, i) => expect(p).toBeCloseTo(probabilities[i]!, 4));
    await page.close();
  });
});

describe('demo in Chromium: a tampered artifact', () => {
  let updates: TestUpdateServer;
  let site: DemoSite;
  let browser: Browser;

  beforeAll(async () => {
    [updates, site, browser] = await Promise.all([startTestServer(), serveDemo(), launchChromium()]);
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await updates?.dispose();
  });

  it('rejects bytes whose sha256 does not match the manifest and stores nothing', async () => {
    const manifest = ((await (await fetch(new URL('v1/apps/demo/manifest', updates.server.url))).json()) as {
      signed: { models: { vad: { files: Array<{ sha256: string; length: number }> } } };
    }).signed;
    const { sha256, length } = manifest.models.vad.files[0]!;
    // Same length, different bytes, at the content-addressed path: what a corrupted disk or a hostile mirror serves.
    await writeFile(join(updates.dataDir, 'artifacts', 'sha256', sha256.slice(0, 2), sha256), new Uint8Array(length).fill(7));

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${site.url}?server=${encodeURIComponent(updates.server.url)}&key=${encodeURIComponent(updates.server.publicKey)}`);
    const result = await demoResult(page);
    expect(result.state).toBe('error');
    expect(result.error?.code).toBe('integrity');
    expect(result.error?.message).toMatch(new RegExp(`sha256 mismatch .* the manifest says ${sha256}`));
    const stored = await page.evaluate(async () => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const request = indexedDB.open('edgeloop');
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      const count = (store: string) =>
        new Promise<number>((resolve) => {
          const request = db.transaction(store).objectStore(store).count();
          request.onsuccess = () => resolve(request.result);
        });
      return { files: await count('files'), chunks: await count('chunks'), models: await count('models') };
    });
    expect(stored).toEqual({ files: 0, chunks: 0, models: 0 });
    await context.close();
  });
});
