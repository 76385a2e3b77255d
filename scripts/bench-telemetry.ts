/**
 * Telemetry benchmark: `npx tsx scripts/bench-telemetry.ts [--quick]`.
 *
 * What the device side of telemetry costs and how exact it is: recording 16 features per inference
 * (FeatureRecorder), the size of the largest schema-3 report (sealReport, gzip), and the relative
 * error of latency quantiles from merged LatencyHistograms. Prints a table and writes
 * bench-results/telemetry.json as {"suite":"telemetry","metrics":[{name,value,unit,goal}], "info": {...}};
 * scripts/bench-telemetry-ingest.ts adds `ingest_ratio_vs_hono_post` with {@link writeBenchResults}.
 * Drift power and false-alarm rates at default privacy are `npm run bench:privacy`'s.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import {
  defaultTelemetryConfig,
  emptyEntry,
  FeatureRecorder,
  LatencyHistogram,
  parseReport,
  REPORT_SCHEMA_VERSION,
  ReferenceProfile,
  sealReport,
  seededRng,
  type EntryAccumulatorJSON,
  type Rng,
} from '../packages/telemetry/src/index.js';

export interface BenchMetric {
  name: string;
  value: number;
  unit: string;
  goal: string;
}

export interface BenchResult {
  metrics: BenchMetric[];
  info: Record<string, unknown>;
}

const RESULTS_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '../bench-results/telemetry.json');

/** Standard normal draws, Box–Muller, both values of each pair used. */
function normalSource(rng: Rng): () => number {
  let spare = Number.NaN;
  return function normal() {
    if (spare === spare) {
      const v = spare;
      spare = Number.NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(1 - rng.next()));
    const theta = 2 * Math.PI * rng.next();
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };
}

function normalProfile(id: string, features: number, referenceSize: number, normal: () => number): ReferenceProfile {
  return ReferenceProfile.fromSamples({
    id,
    bins: 10,
    numeric: Array.from({ length: features }, (_, f) => ({
      name: `f${f}`,
      values: Float64Array.from({ length: referenceSize }, normal),
    })),
  });
}

// ── 1. recording cost ────────────────────────────────────────────────────────────────────────
function benchRecord(quick: boolean): { nsPerInference: number; nsPerInferencePlainArray: number } {
  const normal = normalSource(seededRng(1));
  const profile = normalProfile('bench@1', 16, 10_000, normal);
  const recorder = new FeatureRecorder(profile);
  const rows = Array.from({ length: 4096 }, () => Float64Array.from({ length: 16 }, normal));
  const plainRows = rows.map((r) => Array.from(r));
  const iterations = quick ? 500_000 : 2_000_000;
  const time = (record: (i: number) => void): number => {
    for (let i = 0; i < 200_000; i++) record(i); // warm-up: let the JIT optimise record()
    const samples: number[] = [];
    for (let run = 0; run < 5; run++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) record(i);
      samples.push(Number(process.hrtime.bigint() - start) / iterations);
    }
    samples.sort((a, b) => a - b);
    return samples[2]!;
  };
  const nsPerInference = time((i) => recorder.record(rows[i & 4095]!));
  const nsPerInferencePlainArray = time((i) => recorder.record(plainRows[i & 4095]!));
  // Keep the counts alive so the loop cannot be optimised away.
  if (recorder.snapshot().totals[0]! <= 0) throw new Error('recorder counted nothing');
  return { nsPerInference, nsPerInferencePlainArray };
}

// ── 2. report size ───────────────────────────────────────────────────────────────────────────
/** Models of the largest report: `maxEntries` of them, each in a rollout arm with a drift summary. */
const SIZE_MODELS = [
  { model: 'vad', version: '6.0.0', backend: 'webgpu' },
  { model: 'ocr-det', version: '4.1.0-rc.2', backend: 'wasm' },
  { model: 'ocr-cls', version: '2.0.0', backend: 'wasm' },
  { model: 'movenet-lightning', version: '3.0.4', backend: 'webgl' },
  { model: 'kws', version: '1.2.0', backend: 'wasm' },
];

/**
 * The largest schema-3 report under the default config: `maxEntries` entries (more models than
 * that were used, so sealing drops the least used), each with a rollout cohort and a drift summary
 * of a 50-feature profile, sealed by `sealReport` with its noise. The size is the largest over
 * `devices` seeds (the noise changes the digits).
 */
function benchReportSize(quick: boolean): { gzipBytes: number; jsonBytes: number; entries: number; devices: number } {
  const normal = normalSource(seededRng(2));
  const rng = seededRng(3);
  const config = defaultTelemetryConfig('tc_0123456789abcdef');
  const profile = normalProfile('bench-50@1/ref1', 50, 10_000, normal);
  const row = new Float64Array(50);
  let gzipBytes = 0;
  let jsonBytes = 0;
  let entries = 0;
  const devices = quick ? 20 : 100;
  for (let d = 0; d < devices; d++) {
    const accumulators = SIZE_MODELS.map((key, m): EntryAccumulatorJSON => {
      const entry = emptyEntry({ ...key, cohort: { rollout: `ro_${(0xa1b2c3d4e5f0 + m).toString(16)}`, arm: m % 2 === 0 ? 'candidate' : 'control', step: 3 } });
      const recorder = new FeatureRecorder(profile);
      const latency = new LatencyHistogram();
      entry.attempts = 1000 + d * 7 - m; // busy devices: counts past every clip
      entry.successes = entry.attempts - 3;
      entry.errors = { engine: 2, worker: 1 };
      for (let i = 0; i < 200; i++) {
        for (let f = 0; f < 50; f++) row[f] = normal();
        recorder.record(row);
        latency.record(Math.exp(1.5 + 0.4 * normal()));
      }
      entry.latency = latency.toJSON();
      entry.lastUsed = 1_700_000_000_000 + m;
      entry.features = { profile: profile.id, declared: recorder.declaredEntries(), cells: recorder.drain().cells };
      return entry;
    });
    const sealed = sealReport({ app: 'bench', period: 480_000 + d, config, entries: accumulators, reportId: seededUuid(rng), rng });
    if (sealed === null) throw new Error('sealReport sealed nothing');
    entries = sealed.report.models.length;
    const json = JSON.stringify(parseReport(sealed.report));
    jsonBytes = Math.max(jsonBytes, Buffer.byteLength(json));
    gzipBytes = Math.max(gzipBytes, gzipSync(json).length);
  }
  if (entries !== config.maxEntries) throw new Error(`expected ${config.maxEntries} entries, sealed ${entries}`);
  return { gzipBytes, jsonBytes, entries, devices };
}

/** A version-4 UUID from the seeded generator (random ids compress badly; so must the benchmark's). */
function seededUuid(rng: Rng): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rng.next() * 16).toString(16));
  hex[12] = '4';
  hex[16] = '89ab'[Math.floor(rng.next() * 4)]!;
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ── 3. latency quantiles ─────────────────────────────────────────────────────────────────────
function benchLatency(quick: boolean): { maxRelError: number; worst: string } {
  const rng = seededRng(4);
  const normal = normalSource(rng);
  const distributions: Record<string, () => number> = {
    lognormal: () => Math.exp(Math.log(5) + 0.5 * normal()),
    pareto: () => 0.5 / (1 - rng.next()) ** (1 / 1.5),
    bimodal: () => (rng.next() < 0.8 ? 2 + 0.2 * normal() ** 2 : 40 * Math.exp(0.3 * normal())),
  };
  const devices = quick ? 200 : 1000;
  const perDevice = 100;
  let maxRelError = 0;
  let worst = '';
  for (const [name, draw] of Object.entries(distributions)) {
    const all: number[] = [];
    // Per-device histograms merged in a shuffled order, as the server would.
    const parts: LatencyHistogram[] = [];
    for (let d = 0; d < devices; d++) {
      const h = new LatencyHistogram();
      for (let i = 0; i < perDevice; i++) {
        const v = draw();
        h.record(v);
        all.push(v);
      }
      parts.push(h);
    }
    for (let i = parts.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [parts[i], parts[j]] = [parts[j]!, parts[i]!];
    }
    const merged = parts.reduce((a, b) => a.merge(b));
    all.sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.95, 0.99, 0.999]) {
      const exact = all[Math.max(0, Math.ceil(q * all.length) - 1)]!;
      const error = Math.abs(merged.quantile(q)! - exact) / exact;
      if (error > maxRelError) {
        maxRelError = error;
        worst = `${name} p${q * 100}`;
      }
    }
  }
  return { maxRelError, worst };
}

/** The metrics this script and scripts/bench-telemetry-ingest.ts write; anything else in the file is dropped. */
export const TELEMETRY_METRICS = [
  'record_ns_per_inference_16_features',
  'report_bytes_gzip_max_entries',
  'latency_quantile_max_rel_error',
  'ingest_ratio_vs_hono_post',
] as const;

/** Runs every telemetry measurement; `log` receives progress lines. */
export async function runTelemetryBench(options: { quick: boolean; log?: (line: string) => void }): Promise<BenchResult> {
  const { quick } = options;
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

  const record = benchRecord(quick);
  log(`record: ${record.nsPerInference.toFixed(1)} ns/inference (${elapsed()})`);
  const size = benchReportSize(quick);
  log(`report: ${size.gzipBytes} B gzip, ${size.jsonBytes} B JSON, ${size.entries} entries (${elapsed()})`);
  const latency = benchLatency(quick);
  log(`latency: max relative error ${latency.maxRelError.toFixed(4)} at ${latency.worst} (${elapsed()})`);

  const metrics: BenchMetric[] = [
    { name: 'record_ns_per_inference_16_features', value: round(record.nsPerInference, 1), unit: 'ns', goal: '<= 1000' },
    { name: 'report_bytes_gzip_max_entries', value: size.gzipBytes, unit: 'bytes', goal: '<= 2048' },
    { name: 'latency_quantile_max_rel_error', value: round(latency.maxRelError, 5), unit: 'ratio', goal: '<= 0.02' },
  ];
  const info = {
    mode: quick ? 'quick' : 'full',
    seconds: (Date.now() - started) / 1000,
    node: process.version,
    record: { ...record, features: 16, iterations: quick ? 500_000 : 2_000_000 },
    report: {
      ...size,
      schema: REPORT_SCHEMA_VERSION,
      setup: 'default telemetry config; every entry with a rollout cohort and a drift summary (50-feature profile); sealed by sealReport; largest over the seeds',
    },
    latency: { ...latency, setup: `${quick ? 200 : 1000} per-device histograms of 100 values each, merged in a shuffled order; p50–p99.9 of lognormal, Pareto and bimodal latencies` },
    driftMetrics: 'drift power and false-alarm rate at default privacy are measured by npm run bench:privacy',
  };
  return { metrics, info };
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

/**
 * Writes the results, keeping the metrics (by name) of {@link TELEMETRY_METRICS} and the info keys
 * from the existing file that this result does not carry, so the ingest benchmark can add
 * `ingest_ratio_vs_hono_post` with `writeBenchResults({ metrics: [ingestMetric], info: { ingest } })`
 * without erasing these. Metrics this suite no longer measures are dropped.
 */
export function writeBenchResults(result: BenchResult, path = RESULTS_PATH): void {
  let kept: BenchMetric[] = [];
  let keptInfo: Record<string, unknown> = {};
  try {
    const previous = JSON.parse(readFileSync(path, 'utf8')) as { metrics?: BenchMetric[]; info?: Record<string, unknown> };
    const names = new Set(result.metrics.map((m) => m.name));
    const current = new Set<string>(TELEMETRY_METRICS);
    kept = (previous.metrics ?? []).filter((m) => current.has(m.name) && !names.has(m.name));
    keptInfo = Object.fromEntries(Object.entries(previous.info ?? {}).filter(([key]) => INFO_KEYS.includes(key)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true });
  const info = { ...keptInfo, ...result.info };
  const order = (m: BenchMetric) => TELEMETRY_METRICS.indexOf(m.name as (typeof TELEMETRY_METRICS)[number]);
  const metrics = [...result.metrics, ...kept].sort((x, y) => order(x) - order(y));
  writeFileSync(path, `${JSON.stringify({ suite: 'telemetry', metrics, info }, null, 2)}\n`);
}

/** Info keys of runTelemetryBench and of the ingest benchmark (`ingest`); others are stale and dropped. */
const INFO_KEYS = ['mode', 'seconds', 'node', 'record', 'report', 'latency', 'driftMetrics', 'ingest'];

function meets(metric: BenchMetric): boolean {
  const [op, bound] = metric.goal.split(' ');
  return op === '<=' ? metric.value <= Number(bound) : metric.value >= Number(bound);
}

function printTable(result: BenchResult): void {
  const rows = result.metrics.map((m) => [m.name, `${m.value} ${m.unit}`, m.goal, meets(m) ? 'ok' : 'MISSED']);
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length), 6));
  console.log('');
  for (const r of [['metric', 'value', 'goal', ''], ...rows]) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
}

// No top-level await, so other scripts can import runTelemetryBench / writeBenchResults from CJS too.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const quick = process.argv.includes('--quick');
  runTelemetryBench({ quick, log: (line) => console.log(line) }).then(
    function reportBench(result) {
      printTable(result);
      writeBenchResults(result);
      console.log(`\nwrote ${RESULTS_PATH}`);
    },
    function benchFailed(error: unknown) {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
