/**
 * `npm run bench:delivery [-- --quick]`: edgeloop's model delivery against a plain fetch, in real
 * Chromium, same run, same machine. PP-OCRv4 det (4.7 MB) is published to a real update server
 * on loopback; a recording proxy in front counts the bytes that cross the wire. Method and the
 * figures of the day: docs/delivery.md, "Benchmark".
 * Writes bench-results/delivery.json and prints a table.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { LoadRequest, LoadResult } from '../bench/delivery/page-api.js';
import { launchChromium } from '../e2e/support/chromium.js';
import { openDeliveryPage, serveDeliveryPage } from '../e2e/support/delivery-site.js';
import { FaultProxy } from '../e2e/support/fault-proxy.js';
import { startTestServer } from '../e2e/support/update-server.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 3 : 15;
const TTFI_RUNS = quick ? 2 : 5;
/**
 * A fresh browser context's renderer is still starting up (and the previous context shutting
 * down) when the page reports ready; on two cores that work lands inside whichever timing runs
 * first. Every contender waits this long before it is timed.
 */
const SETTLE_MS = 1000;
// The package's exports map hides its assets; the file is read from its installed location.
const PPOCR_DET = join(import.meta.dirname, '..', 'node_modules', '@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx');
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round = (value: number, digits = 3) => Number(value.toFixed(digits));

async function main(): Promise<void> {
  const model = await readFile(PPOCR_DET);
  const updates = await startTestServer();
  const proxy = new FaultProxy(updates.server.url);
  await proxy.start();
  const site = await serveDeliveryPage();
  let browser: Browser | undefined;
  try {
    const published = await fetch(new URL('v1/admin/apps/demo/models/ocr-det/versions/4.0.0', updates.server.url), {
      method: 'POST',
      body: model,
      headers: { 'Content-Type': 'application/octet-stream', ...updates.admin },
    });
    if (published.status !== 201) throw new Error(`publishing PP-OCRv4 det failed: ${published.status} ${await published.text()}`);
    const { sha256 } = (await published.json()) as { sha256: string };
    const artifactUrl = new URL(`v1/artifacts/sha256/${sha256}`, proxy.url).href;
    browser = await launchChromium();
    const request = (overrides: Partial<LoadRequest> = {}): LoadRequest => ({
      serverUrl: proxy.url,
      publicKey: updates.server.publicKey,
      model: 'ocr-det',
      engine: 'none',
      ...overrides,
    });
    // Every measurement starts in a fresh browser context: empty HTTP cache, empty IndexedDB.
    const freshPage = async () => {
      const context = await browser!.newContext();
      const page = await context.newPage();
      await openDeliveryPage(page, site.url);
      await page.waitForTimeout(SETTLE_MS);
      return { page, close: () => context.close() };
    };
    const load = async (page: import('playwright-core').Page, overrides: Partial<LoadRequest> = {}) => {
      const result: LoadResult = await page.evaluate((r) => window.edgeloopDelivery.load(r), request(overrides));
      if (!result.ok) throw new Error(`load failed: ${result.error.code}: ${result.error.message}`);
      return result;
    };

    // 1. Cold download throughput: runtime (download + sha256 + IndexedDB, no engine) vs a plain
    // fetch(url).arrayBuffer(), which like the runtime's request goes through the (empty) HTTP cache.
    // For information: the same fetch with cache: 'no-store', which skips writing the HTTP cache
    // (the runtime's resume relies on that cache entry), and the runtime's streaming path
    // (wholeFileMaxBytes: 0, what larger files take).
    const fetchMs: number[] = [];
    const noStoreMs: number[] = [];
    const runtimeMs: number[] = [];
    const streamingMs: number[] = [];
    const loadMs: number[] = [];
    const contenders = ['fetch', 'runtime', 'no-store', 'streaming'];
    for (let i = 0; i < RUNS; i++) {
      // Each run starts with another contender and alternates direction, so none always runs first.
      const rotated = [...contenders.slice(i % contenders.length), ...contenders.slice(0, i % contenders.length)];
      for (const contender of i % 2 ? rotated.reverse() : rotated) {
        const { page, close } = await freshPage();
        if (contender === 'fetch' || contender === 'no-store') {
          const cache: RequestCache | undefined = contender === 'no-store' ? 'no-store' : undefined;
          const { ms, bytes } = await page.evaluate(({ url, cache }) => window.edgeloopDelivery.plainFetch(url, cache), { url: artifactUrl, cache });
          if (bytes !== model.byteLength) throw new Error(`plain fetch got ${bytes} bytes`);
          (contender === 'fetch' ? fetchMs : noStoreMs).push(ms);
        } else if (contender === 'streaming') {
          const result = await load(page, { wholeFileMaxBytes: 0 });
          if (result.source !== 'network') throw new Error('expected a cold download');
          streamingMs.push(result.downloadMs);
        } else {
          const result = await load(page);
          if (result.source !== 'network') throw new Error('expected a cold download');
          runtimeMs.push(result.downloadMs);
          loadMs.push(result.loadedMs);
        }
        await close();
      }
    }

    // 2. Warm start: the cached model is current; count every byte the server sends.
    const warm = await freshPage();
    await load(warm.page);
    // (The page declares no reportable features, so no reference profile is fetched after load().)
    proxy.requests.length = 0;
    const again = await load(warm.page);
    if (again.source !== 'cache') throw new Error('expected the warm load to come from the cache');
    const warmStartBytes = proxy.requests.reduce((total, r) => total + r.headerBytes + r.bodyBytes, 0);
    const warmRequests = proxy.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
    await warm.close();

    // 3. A download dropped at 50%, then resumed: all artifact bytes received / file size.
    const resumeRatios: number[] = [];
    for (let i = 0; i < (quick ? 1 : 5); i++) {
      const dropped = await freshPage();
      proxy.requests.length = 0;
      proxy.faults.push({ match: '/artifacts/', kind: 'cut', afterBytes: Math.floor(model.byteLength / 2) });
      await load(dropped.page);
      resumeRatios.push(proxy.bodyBytesTo('/artifacts/') / model.byteLength);
      await dropped.close();
    }

    // 4. Time to first inference: from the IndexedDB cache through the full delivery path vs bytes already in memory.
    const feeds = { x: { dims: [1, 3, 320, 320], fill: 0.5 } };
    const cachedMs: number[] = [];
    const memoryMs: number[] = [];
    const installed = await browser.newContext();
    {
      const page = await installed.newPage();
      await openDeliveryPage(page, site.url);
      await load(page);
      await page.close();
    }
    for (let i = 0; i < TTFI_RUNS; i++) {
      for (const contender of i % 2 === 0 ? ['cache', 'memory'] : ['memory', 'cache']) {
        const page = await installed.newPage();
        await openDeliveryPage(page, site.url);
        await page.evaluate(() => window.edgeloopDelivery.warmWorker());
        if (contender === 'cache') {
          const result = await load(page, { engine: 'worker', feeds });
          if (result.source !== 'cache' || result.firstRunMs === null) throw new Error('expected a cached first inference');
          cachedMs.push(result.firstRunMs);
        } else {
          memoryMs.push(await page.evaluate(({ url, f }) => window.edgeloopDelivery.firstRunFromMemory(url, f), { url: artifactUrl, f: feeds }));
        }
        await page.close();
      }
    }
    await installed.close();

    const metrics = [
      { name: 'download_ratio_runtime_vs_fetch', value: round(median(fetchMs) / median(runtimeMs)), unit: 'ratio', goal: '>= 0.8' },
      { name: 'warm_start_bytes', value: warmStartBytes, unit: 'bytes', goal: '<= 1024' },
      { name: 'resume_total_bytes_ratio', value: round(median(resumeRatios), 4), unit: 'ratio', goal: '<= 1.05' },
      { name: 'ttfi_ratio_cached_vs_memory', value: round(median(cachedMs) / median(memoryMs)), unit: 'ratio', goal: '<= 1.2' },
    ];
    const info = {
      model: `PP-OCRv4 det, ${model.byteLength} bytes`,
      runs: { download: RUNS, ttfi: TTFI_RUNS },
      settle_ms_before_each_timing: SETTLE_MS,
      medians_ms: {
        plain_fetch: round(median(fetchMs), 1),
        fetch_no_store: round(median(noStoreMs), 1),
        runtime_download_verify_store: round(median(runtimeMs), 1),
        runtime_streaming_download_verify_store: round(median(streamingMs), 1),
        runtime_whole_cold_load_incl_manifest_and_db_open: round(median(loadMs), 1),
        ttfi_cached: round(median(cachedMs), 1),
        ttfi_memory: round(median(memoryMs), 1),
      },
      whole_cold_load_ratio_vs_fetch: round(median(fetchMs) / median(loadMs)),
      download_ratio_vs_fetch_no_store: round(median(noStoreMs) / median(runtimeMs)),
      raw: { fetchMs: fetchMs.map((v) => round(v, 1)), noStoreMs: noStoreMs.map((v) => round(v, 1)), runtimeMs: runtimeMs.map((v) => round(v, 1)), streamingMs: streamingMs.map((v) => round(v, 1)) },
      streaming_download_ratio_vs_fetch: round(median(fetchMs) / median(streamingMs)),
      resume_ratios: resumeRatios.map((r) => round(r, 4)),
      warm_start_requests: warmRequests,
      chromium: browser.version(),
      quick,
    };
    const dir = join(import.meta.dirname, '..', 'bench-results');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'delivery.json'), `${JSON.stringify({ suite: 'delivery', metrics, info }, null, 2)}\n`);
    console.log(`\ndelivery benchmark (${quick ? 'quick' : 'full'}; Chromium ${browser.version()}; ${info.model})\n`);
    console.log(`${'metric'.padEnd(36)}${'value'.padStart(12)}  goal`);
    for (const m of metrics) console.log(`${m.name.padEnd(36)}${String(m.value).padStart(12)}  ${m.goal}`);
    console.log('');
    for (const [name, value] of Object.entries(info.medians_ms)) console.log(`  median ${name}: ${value} ms`);
    console.log(`  whole cold load (manifest, IndexedDB open, download, verify, store) vs fetch: ${info.whole_cold_load_ratio_vs_fetch}`);
    console.log(`  runtime vs fetch with cache: 'no-store' (writes no HTTP cache entry): ${info.download_ratio_vs_fetch_no_store}`);
    console.log(`  streaming path (files above wholeFileMaxBytes) vs fetch: ${info.streaming_download_ratio_vs_fetch}`);
    console.log(`  resume ratios: ${info.resume_ratios.join(', ')}`);
    console.log(`  warm start requests: ${warmRequests.join('; ')}`);
  } finally {
    await browser?.close();
    await site.close();
    await proxy.stop();
    await updates.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
