/**
 * Runtime collector benchmark: `npx tsx --conditions=@edgeloop/source scripts/bench-collector.ts [--quick]`.
 *
 * What one inference costs the telemetry collector on the hot path (`observe()`): an entry
 * lookup, counts, the latency histogram and 16 app-declared numeric features counted against a
 * signed reference profile. Reports ns per observe and the garbage collections that happened while
 * it ran: the hot path is meant to allocate nothing, so a run of millions of observes should
 * trigger no scavenge at all.
 */
import { createHash } from 'node:crypto';
import { PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { defaultTelemetryConfig, ReferenceProfile, seededRng } from '../packages/telemetry/src/index.js';
import { TelemetryCollector } from '../packages/runtime/src/telemetry/collector.js';
import { memoryTelemetryStorage } from '../packages/runtime/src/telemetry/telemetry-storage.js';
import { tensor } from '../packages/runtime/src/engine/tensor.js';

const FEATURES = 16;

export async function benchCollector(quick: boolean): Promise<{ nsPerInference: number; iterations: number; garbageCollections: number }> {
  const rng = seededRng(1);
  const profile = ReferenceProfile.fromSamples({
    id: 'bench@1/ref',
    numeric: Array.from({ length: FEATURES }, (_, f) => ({ name: `x[${f}]`, values: Float64Array.from({ length: 2000 }, () => rng.next() - 0.5) })),
  });
  const bytes = new TextEncoder().encode(JSON.stringify(profile.toJSON()));
  const ref = { id: profile.id, sha256: createHash('sha256').update(bytes).digest('hex'), length: bytes.byteLength, url: 'profile' };
  const collector = new TelemetryCollector({
    app: 'bench',
    baseUrl: new URL('http://127.0.0.1/'),
    fetch: (async () => new Response(bytes)) as typeof fetch,
    config: () => defaultTelemetryConfig('tc_bench'),
    // Merges every 10 minutes: the run measures recording alone.
    settings: { storage: memoryTelemetryStorage(), autoFlush: false, flushOnPageHide: false, mergeIntervalMs: 600_000 },
  });
  const frame = new Float32Array(FEATURES).map((_, i) => i / FEATURES - 0.5);
  const feeds = { x: tensor('float32', frame, [FEATURES]) };
  const outputs = {};
  const report = Array.from({ length: FEATURES }, (_, f) => ({ name: `x[${f}]`, range: [-1, 1] as const }));
  await collector.loaded({ name: 'vad', version: '5.0.0', backend: 'wasm' }, { cohort: null, profile: ref }, { report });
  const iterations = quick ? 300_000 : 2_000_000;
  for (let i = 0; i < 50_000; i++) collector.observe('vad', '5.0.0', 'wasm', 1.5, feeds, outputs);
  let garbageCollections = 0;
  const observer = new PerformanceObserver((list) => (garbageCollections += list.getEntries().length));
  observer.observe({ entryTypes: ['gc'] });
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) collector.observe('vad', '5.0.0', 'wasm', 1.5, feeds, outputs);
  const ns = Number(process.hrtime.bigint() - started) / iterations;
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the observer deliver
  observer.disconnect();
  collector.dispose();
  return { nsPerInference: Math.round(ns * 10) / 10, iterations, garbageCollections };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  benchCollector(process.argv.includes('--quick')).then(
    (result) => console.log(JSON.stringify(result)),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
