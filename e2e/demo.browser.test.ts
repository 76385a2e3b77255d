import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoState } from '../demo/src/main.js';
import type { TelemetryView } from '../demo/src/telemetry-panel.js';
import { launchChromium } from './support/chromium.js';
import { serveDemo, type DemoSite } from './support/demo-site.js';
import { startTestServer, type TestUpdateServer } from './support/update-server.js';

const require = createRequire(import.meta.url);

// Frames are 32 ms. The clip is 1.5 s of silence, ~4.5 s of espeak-ng speech, 1.5 s of silence.
const FRAME_S = 512 / 16000;
const framesBetween = (probabilities: number[], from: number, to: number) =>
  probabilities.filter((_, i) => i * FRAME_S >= from && (i + 1) * FRAME_S <= to);
const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

async function demoResult(page: Page): Promise<DemoState> {
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 120_000 });
  return page.evaluate(() => window.edgeloopDemo);
}

/** The accounting period the test server signs: long enough for the page's run, short enough to wait out. */
const PERIOD_MS = 15_000;

describe('demo in Chromium: the whole loop', () => {
  let updates: TestUpdateServer;
  let site: DemoSite;
  let browser: Browser;
  let context: BrowserContext;
  let token: string;

  beforeAll(async () => {
    [site, browser] = await Promise.all([serveDemo(), launchChromium()]);
    // A floor of two reports: the first device's report waits below it, the second's releases both.
    updates = await startTestServer({ telemetry: { minReports: 2, config: { periodMs: PERIOD_MS } }, adminCorsOrigins: new URL(site.url).origin });
    context = await browser.newContext();
    // The page reads the views with a read-only token, as npm start gives it one.
    const created = await fetch(new URL('v1/admin/apps/demo/tokens', updates.server.url), {
      method: 'POST',
      body: JSON.stringify({ name: 'demo page', scopes: ['read'] }),
      headers: { 'Content-Type': 'application/json', ...updates.admin },
    });
    expect(created.status).toBe(201);
    token = ((await created.json()) as { token: string }).token;
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await site?.close();
    await updates?.dispose();
  });

  const pageUrl = () => `${site.url}?server=${encodeURIComponent(updates.server.url)}&key=${encodeURIComponent(updates.server.publicKey)}&token=${encodeURIComponent(token)}`;
  const text = (page: Page, selector: string) => page.locator(selector).innerText();
  /** Waits for the panel's next refresh that starts after now, and returns what it read. */
  async function refreshed(page: Page): Promise<TelemetryView> {
    const after = Date.now();
    await page.waitForFunction((t) => (window.edgeloopTelemetryView.refreshed ?? 0) > t, after, { timeout: 20_000 });
    return page.evaluate(() => window.edgeloopTelemetryView);
  }
  /** Waits until the device has sealed its period and the server took the report: nothing left on the device. */
  async function delivered(page: Page): Promise<void> {
    await page.waitForFunction(() => window.edgeloopTelemetryView.device?.entries.length === 0, null, { timeout: PERIOD_MS + 30_000 });
  }
  const publish = (model: string, version: string, bytes: Uint8Array<ArrayBuffer>, query = '') =>
    fetch(new URL(`v1/admin/apps/demo/models/${model}/versions/${version}${query}`, updates.server.url), {
      method: 'POST',
      body: bytes,
      headers: { 'Content-Type': 'application/octet-stream', ...updates.admin },
    });

  it('downloads, verifies and runs Silero VAD in a worker, shows its telemetry once released and the gate\'s decisions, then runs from IndexedDB with the server stopped', async () => {
    const page = await context.newPage();
    const workers: string[] = [];
    page.on('worker', (worker) => workers.push(worker.url()));
    await page.goto(pageUrl());
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

    // Telemetry on the device: exact counts of the running period, never sent as such.
    const running = await refreshed(page);
    expect(running.device!.entries).toEqual([expect.objectContaining({ model: 'vad', version: '5.0.0', backend: 'wasm', state: 'recording', inferences: probabilities.length })]);
    expect(await text(page, '#device-telemetry')).toMatch(new RegExp(`^vad 5\\.0\\.0 on wasm: ${probabilities.length} inferences, 0 errors — recording until `));
    // On the server: nothing released yet. The banner says this is a demo floor; the version runs
    // but its row says "fewer than 2 reports", never how many.
    expect(running.server!.floor).toMatchObject({ minReports: 2, demo: true });
    expect(await text(page, '#demo-banner')).toBe('Demo server: telemetry is shown from 2 reports instead of 20. Never use this setting with real devices.');
    expect(await text(page, '#server-telemetry')).toMatch(/^fewer than 2 reports were released for any model version between /);
    expect(await page.locator('#releases').isHidden()).toBe(true);
    expect(await text(page, '#health tbody')).toBe('vad 5.0.0\tfewer than 2 reports released: nothing is shown below the floor');

    // The period ends: the page seals one noised report and sends it. Its hour closes: one report is
    // below the floor, so it is held, and the page still shows no count.
    await delivered(page);
    expect(await updates.closeWindow()).toMatchObject({ released: 0, held: 1 });
    await refreshed(page);
    expect(await page.locator('#releases').isHidden()).toBe(true);
    expect(await text(page, '#health tbody')).toMatch(/^vad 5\.0\.0\tfewer than 2 reports released/);
    await page.click('#flush');
    await page.waitForFunction(() => /^sent 0 report entries$/.test(document.getElementById('telemetry')?.textContent ?? ''));

    // A rollout of another model, for the gate panel; then a second device reports.
    for (const [version, file, query] of [['1.0.0', 'silero_vad_v5.onnx', '?channel=stable'], ['2.0.0', 'silero_vad_v6.onnx', '']] as const) {
      const res = await publish('kws', version, new Uint8Array(await readFile(require.resolve(`@ricky0123/vad-web/dist/${file}`))), query);
      expect(res.status, await res.clone().text()).toBe(201);
    }
    const rolloutRes = await fetch(new URL('v1/admin/apps/demo/rollouts', updates.server.url), {
      method: 'POST',
      body: JSON.stringify({ model: 'kws', toVersion: '2.0.0', steps: [{ percentage: 50 }, { percentage: 100 }] }),
      headers: { 'Content-Type': 'application/json', ...updates.admin },
    });
    expect(rolloutRes.status).toBe(201);
    const rollout = (await rolloutRes.json()) as { id: string };
    const second = await browser.newContext();
    const other = await second.newPage();
    await other.goto(pageUrl());
    expect(await demoResult(other)).toMatchObject({ state: 'done', version: '5.0.0' });
    await refreshed(other);
    await delivered(other);
    await second.close();

    // The next hour closes: both reports are released together; the gate looked at the rollout.
    expect(await updates.closeWindow()).toMatchObject({ released: 1, held: 0 });
    const shown = await refreshed(page);
    expect(shown.server!.releases).toEqual([expect.objectContaining({ model: 'vad', version: '5.0.0', backend: 'wasm', cohort: null, reports: 2 })]);
    expect(await text(page, '#releases tbody')).toMatch(/^vad 5\.0\.0\twasm\t–\t\d\d:\d\d–\d\d:\d\d\t2$/);
    expect(await text(page, '#health tbody')).toMatch(/^vad 5\.0\.0\twasm\t2\t/);
    expect(await text(page, '#server-telemetry')).toBe('');
    expect(await text(page, '#health-note')).toMatch(/^Every value in a report is noised on its device; estimates from fewer than 20 reports/);
    const [decision] = ((await (await fetch(new URL(`v1/admin/apps/demo/rollouts/${rollout.id}/decisions`, updates.server.url), { headers: updates.admin })).json()) as { decisions: Array<{ outcome: string; rule: string; reason: string }> }).decisions;
    expect(decision).toMatchObject({ outcome: 'hold', rule: 'insufficient_reports' });
    const gateRow = await text(page, '#gate tbody');
    expect(gateRow).toContain(`${rollout.id}: kws 1.0.0 → 2.0.0\trunning, 50 % (step 1/2)\thold — insufficient_reports: an arm has fewer reports than the floor — ${decision!.reason} — window ending `);

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
    expect((await refreshed(page)).serverError).toMatch(/^the server views could not be read/);
    await page.close();
  }, 240_000);
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
