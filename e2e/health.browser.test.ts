import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { deviceRoutes, encodeGolden } from '@edgeloop/protocol';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, afterEach, describe, expect, it } from 'vitest';
import { goldenFrame, type HealthLoadRequest } from './health-page/page-api.js';
import { launchChromium } from './support/chromium.js';
import { openHealthPage, serveHealthPage } from './support/health-site.js';
import { addGolden, failingGolden, measureRevertTiming, publishSilero, setChannel, sileroFile, type AdminServer } from './support/revert-timing.js';
import { SWIFTSHADER_WEBGPU } from './support/runtime-bench-site.js';
import { startTestServer, type TestUpdateServer } from './support/update-server.js';
import type { Site } from './support/vite-site.js';

/**
 * The device's health gate in real Chromium with real Silero VAD v5 and v6 from a real update
 * server: a golden check that fails reverts to v5 (timed), a golden check that fails on WebGPU
 * (SwiftShader) moves the release to WASM, and a page that crashes twice during a trial reverts it.
 */
describe('health gate in Chromium', () => {
  let updates: TestUpdateServer;
  let site: Site;
  let browser: Browser;
  let context: BrowserContext;
  let server: AdminServer;

  const newPage = async () => {
    const page = await context.newPage();
    await openHealthPage(page, site.url);
    return page;
  };
  const request = (model: string, dbName: string, extra: Partial<HealthLoadRequest> = {}): HealthLoadRequest => ({
    serverUrl: updates.server.url,
    publicKey: updates.server.publicKey,
    model,
    dbName,
    backends: ['wasm'],
    ...extra,
  });
  const load = (page: Page, r: HealthLoadRequest) => page.evaluate((req) => window.edgeloopHealth.load(req), r);

  beforeAll(async () => {
    [updates, site, browser] = await Promise.all([startTestServer(), serveHealthPage(), launchChromium(SWIFTSHADER_WEBGPU)]);
    server = { url: updates.server.url, publicKey: updates.server.publicKey, admin: updates.admin };
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await updates?.dispose();
  });
  beforeEach(async () => {
    context = await browser.newContext();
  });
  afterEach(async () => {
    await context.close();
  });

  it('reverts Silero v6 whose golden check fails to v5, which answers within 1 s of the failed check, and keeps v6 refused', async () => {
    await publishSilero(server, 'vadgold', failingGolden());
    const page = await newPage();
    expect(await load(page, request('vadgold', 'gold'))).toMatchObject({ ok: true, version: '5.0.0', health: { state: 'committed' } });
    expect((await page.evaluate(() => window.edgeloopHealth.run(3))).versions).toEqual(['5.0.0', '5.0.0', '5.0.0']);

    await setChannel(server, 'vadgold', '6.0.0');
    const tried = await load(page, request('vadgold', 'gold', { runAfterLoad: true }));
    expect(tried).toMatchObject({ ok: true, version: '5.0.0', health: { state: 'reverted', version: '6.0.0', reason: 'golden_mismatch' } });
    const health = tried.ok ? tried.health : null;
    expect(health!.detail).toMatch(/golden case "tone" on wasm: output 'output': element 0 is 0\.\d+, expected 0\.8999\d* \(outside maxAbs 0\.001\)/);
    console.log(`device_revert_ms (failed golden check → Silero v5 answering, Chromium): ${health!.revertMs!.toFixed(2)} ms`);
    expect(health!.revertMs).toBeLessThan(1000);
    const events = await page.evaluate(() => window.edgeloopHealth.events());
    expect(events.map((e) => [e.type, e.detail.reason ?? null])).toEqual([['trial-start', null], ['trial-revert', 'golden_mismatch']]);
    expect((await page.evaluate(() => window.edgeloopHealth.run(3))).versions).toEqual(['5.0.0', '5.0.0', '5.0.0']);
    // v5 was loaded beside the trial (a switch, not a cold start), v6 once, for its golden check.
    const sessions = (await page.evaluate(() => window.edgeloopHealth.sessions())).map((s) => s.label);
    expect(sessions.filter((l) => l === 'model "vadgold" 6.0.0')).toHaveLength(1);

    // A new start (a new runtime over the same storage): v5 runs, v6 is refused without being opened.
    const opened = (await page.evaluate(() => window.edgeloopHealth.sessions())).length;
    expect(await load(page, request('vadgold', 'gold'))).toMatchObject({ ok: true, version: '5.0.0', problem: { code: 'health' }, health: { state: 'committed' } });
    expect((await page.evaluate(() => window.edgeloopHealth.sessions())).slice(opened).map((s) => s.label)).toEqual(['model "vadgold" 5.0.0']);
  });

  it('measures device_revert_ms over repeated reverts (e2e/support/revert-timing.ts; EDGELOOP_REVERT_RUNS, default 3)', async () => {
    const runs = Number(process.env.EDGELOOP_REVERT_RUNS ?? 3);
    const page = await newPage();
    const timing = await measureRevertTiming(page, server, { runs, model: 'vadtiming' });
    console.log(`device_revert_ms over ${timing.samples.length} reverts: p50 ${timing.p50.toFixed(2)} ms, p95 ${timing.p95.toFixed(2)} ms, max ${timing.max.toFixed(2)} ms; all: ${timing.samples.map((v) => v.toFixed(1)).join(', ')}`);
    expect(timing.samples).toHaveLength(runs);
    expect(timing.p95).toBeLessThan(1000);
  }, 600_000);

  it('moves a release whose golden check fails on WebGPU (SwiftShader) but passes on WASM to WASM', async () => {
    const page = await newPage();
    await publishSilero(server, 'vadgpu', null);
    const v6 = new URL(deviceRoutes.artifact(createHash('sha256').update(await readFile(sileroFile(6))).digest('hex')), server.url).href;
    const wasm = await page.evaluate((u) => window.edgeloopHealth.outputs(u, 'wasm'), v6);
    const gpu = await page.evaluate((u) => window.edgeloopHealth.outputs(u, 'webgpu'), v6);
    // What makes this case: the GPU's arithmetic differs from WASM's in the last bits, which an exact golden check sees.
    expect(gpu.stateN.some((v, i) => v !== wasm.stateN[i]) || gpu.output[0] !== wasm.output[0]).toBe(true);
    const { input, state, sr } = goldenFrame();
    const exact = { maxAbs: 0 };
    const golden = encodeGolden([
      {
        name: 'tone-exact',
        inputs: { input: { dtype: 'float32', dims: [1, 576], data: input }, state: { dtype: 'float32', dims: [2, 1, 128], data: state }, sr: { dtype: 'int64', dims: [], data: sr } },
        outputs: {
          output: { dtype: 'float32', dims: [1, 1], data: Float32Array.from(wasm.output), tolerance: exact },
          stateN: { dtype: 'float32', dims: [2, 1, 128], data: Float32Array.from(wasm.stateN), tolerance: exact },
        },
      },
    ]);
    await addGolden(server, 'vadgpu', '6.0.0', new TextEncoder().encode(JSON.stringify(golden)));
    // A first install of v6 (its golden checks are the whole gate; a trial would also open v5 on WebGPU, slowly, for nothing here).
    await setChannel(server, 'vadgpu', '6.0.0');
    const moved = await load(page, request('vadgpu', 'gpu', { backends: ['webgpu', 'wasm'] }));
    expect(moved).toMatchObject({ ok: true, version: '6.0.0', backend: 'wasm', health: { state: 'committed', refusedBackends: ['webgpu'] } });
    const sessions = await page.evaluate(() => window.edgeloopHealth.sessions());
    expect(sessions.filter((s) => s.label === 'model "vadgpu" 6.0.0').map((s) => s.backend)).toEqual(['webgpu', 'wasm']);
    expect((await page.evaluate(() => window.edgeloopHealth.run(2))).versions).toEqual(['6.0.0', '6.0.0']);
  });

  it('does not count reloads during a trial, but reverts a release whose page crashed twice during it, at the next start, without running it', async () => {
    await publishSilero(server, 'vadcrash', null);
    const first = await newPage();
    expect(await load(first, request('vadcrash', 'crash'))).toMatchObject({ ok: true, version: '5.0.0' });
    await setChannel(server, 'vadcrash', '6.0.0');
    expect(await load(first, request('vadcrash', 'crash'))).toMatchObject({ ok: true, version: '6.0.0', health: { state: 'trial' } });
    // An ordinary reload: the page gives its lease back as it goes (were it counted, the first crash below would make two).
    await first.reload();
    await openHealthPage(first, site.url);
    expect(await load(first, request('vadcrash', 'crash'))).toMatchObject({ ok: true, version: '6.0.0', health: { state: 'trial' } });
    await first.close();
    for (let i = 0; i < 2; i++) {
      const doomed = await newPage();
      expect(await load(doomed, request('vadcrash', 'crash'))).toMatchObject({ ok: true, version: '6.0.0', health: { state: 'trial' } });
      const crashed = new Promise((resolve) => doomed.once('crash', resolve));
      const cdp = await context.newCDPSession(doomed);
      void cdp.send('Page.crash').catch(() => undefined);
      await crashed;
    }
    const after = await newPage();
    const result = await load(after, request('vadcrash', 'crash'));
    expect(result).toMatchObject({ ok: true, version: '5.0.0', health: { state: 'reverted', version: '6.0.0', reason: 'crash_loop', detail: 'the page or process running it ended 2 times during its trial' } });
    expect((await after.evaluate(() => window.edgeloopHealth.sessions())).map((s) => s.label)).toEqual(['model "vadcrash" 5.0.0']);
    expect((await after.evaluate(() => window.edgeloopHealth.events())).map((e) => [e.type, e.detail.reason])).toEqual([['trial-revert', 'crash_loop']]);
  });
});
