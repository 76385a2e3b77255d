/**
 * Telemetry benchmark: `npx tsx scripts/bench-telemetry.ts [--quick]`.
 *
 * Seeded synthetic fleets; prints a table and writes bench-results/telemetry.json as
 * {"suite":"telemetry","metrics":[{name,value,unit,goal}], "info": {...}}.
 * Metrics this script does not produce (e.g. `ingest_ratio_vs_hono_post`, which needs the server)
 * are kept from the existing file, so another script can add them with {@link writeBenchResults}.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import {
  analyzeDrift,
  DEFAULT_PRIVACY,
  FeatureRecorder,
  LatencyHistogram,
  parseReport,
  populationStabilityIndex,
  privatizeSummaries,
  REPORT_SCHEMA_VERSION,
  ReferenceProfile,
  seededRng,
  SummaryAggregate,
  type PrivacyOptions,
  type Rng,
  type TelemetryReport,
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
function benchReportSize(quick: boolean): { gzipBytes: number; jsonBytes: number; devices: number } {
  const normal = normalSource(seededRng(2));
  const rng = seededRng(3);
  const profile = normalProfile('bench-50@1', 50, 10_000, normal);
  const recorder = new FeatureRecorder(profile);
  const row = new Float64Array(50);
  let gzipBytes = 0;
  let jsonBytes = 0;
  const devices = quick ? 20 : 100;
  for (let d = 0; d < devices; d++) {
    // Busy devices (1,000 inferences, clipped to 100) make the largest counts.
    const inferences = d % 2 === 0 ? 50 : 1000;
    const latency = new LatencyHistogram();
    for (let i = 0; i < inferences; i++) {
      for (let f = 0; f < 50; f++) row[f] = normal();
      recorder.record(row);
      latency.record(Math.exp(1.5 + 0.4 * normal()));
    }
    const report: TelemetryReport = {
      schema: REPORT_SCHEMA_VERSION,
      reportId: seededUuid(rng),
      app: 'bench',
      sentAt: '2026-11-25T12:00:00.000Z',
      models: [
        {
          model: 'bench-50',
          version: '1.0.0',
          backend: 'wasm',
          inferences,
          errors: 0,
          latencyMs: latency.toJSON(),
          summaries: privatizeSummaries(recorder.drain(), { rng }),
        },
      ],
    };
    const json = JSON.stringify(parseReport(report));
    jsonBytes = Math.max(jsonBytes, Buffer.byteLength(json));
    gzipBytes = Math.max(gzipBytes, gzipSync(json).length);
  }
  return { gzipBytes, jsonBytes, devices };
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

// ── 4–6. drift ───────────────────────────────────────────────────────────────────────────────
interface FleetScenario {
  devices: number;
  perDevice: number;
  /** Mean shift of feature 0, in σ. */
  shift: number;
  privacy: PrivacyOptions | false;
  features: number;
  windows: number;
}

interface FleetOutcome {
  /** Share of feature-windows of unshifted features called drift. */
  falseAlarmRate: number;
  /** Share of windows where the shifted feature 0 was called drift (NaN without a shift). */
  power: number;
  /** Same two numbers for the naive rule "PSI > 0.1". */
  naiveFalseAlarmRate: number;
  naivePower: number;
  featureWindows: number;
}

const REFERENCE_SIZE = 20_000;
const WINDOWS_PER_REFERENCE = 10;

function runFleet(scenario: FleetScenario, seed: number): FleetOutcome {
  const normal = normalSource(seededRng(seed));
  const noiseRng = seededRng(seed + 1);
  let profile = normalProfile('fleet@1', scenario.features, REFERENCE_SIZE, normal);
  let alarms = 0;
  let naiveAlarms = 0;
  let hits = 0;
  let naiveHits = 0;
  let nullWindows = 0;
  const row = new Float64Array(scenario.features);
  for (let w = 0; w < scenario.windows; w++) {
    // A fresh reference every few windows, so the rates average over reference samples too.
    if (w > 0 && w % WINDOWS_PER_REFERENCE === 0) profile = normalProfile('fleet@1', scenario.features, REFERENCE_SIZE, normal);
    const recorder = new FeatureRecorder(profile);
    const aggregate = SummaryAggregate.empty(profile);
    for (let d = 0; d < scenario.devices; d++) {
      for (let i = 0; i < scenario.perDevice; i++) {
        for (let f = 0; f < scenario.features; f++) row[f] = normal();
        row[0]! += scenario.shift;
        recorder.record(row);
      }
      aggregate.add(privatizeSummaries(recorder.drain(), { privacy: scenario.privacy, rng: noiseRng }));
    }
    const drift = analyzeDrift(profile, aggregate);
    if (drift.verdict === 'insufficient_data') throw new Error(`scenario below the report floor: ${JSON.stringify(scenario)}`);
    drift.features.forEach((feature, f) => {
      const cells = aggregate.cellsOf(f).slice(0, -1);
      const naive = populationStabilityIndex(profile.numeric[f]!.cells, cells) > 0.1;
      const flagged = feature.verdict === 'drift';
      if (f === 0 && scenario.shift !== 0) {
        if (flagged) hits += 1;
        if (naive) naiveHits += 1;
      } else {
        nullWindows += 1;
        if (flagged) alarms += 1;
        if (naive) naiveAlarms += 1;
      }
    });
  }
  const withShift = scenario.shift !== 0;
  return {
    falseAlarmRate: alarms / nullWindows,
    power: withShift ? hits / scenario.windows : Number.NaN,
    naiveFalseAlarmRate: naiveAlarms / nullWindows,
    naivePower: withShift ? naiveHits / scenario.windows : Number.NaN,
    featureWindows: nullWindows,
  };
}

/** Runs every telemetry measurement; `log` receives progress lines. */
export async function runTelemetryBench(options: { quick: boolean; log?: (line: string) => void }): Promise<BenchResult> {
  const { quick } = options;
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

  const record = benchRecord(quick);
  log(`record: ${record.nsPerInference.toFixed(1)} ns/inference (${elapsed()})`);
  const size = benchReportSize(quick);
  log(`report: ${size.gzipBytes} B gzip, ${size.jsonBytes} B JSON (${elapsed()})`);
  const latency = benchLatency(quick);
  log(`latency: max relative error ${latency.maxRelError.toFixed(4)} at ${latency.worst} (${elapsed()})`);

  const nullWindows = quick ? 60 : 400;
  const F = 16;
  const fleets: Array<{ label: string; devices: number; perDevice: number; privacy: PrivacyOptions | false }> = [
    { label: 'n=100 (20×5), raw', devices: 20, perDevice: 5, privacy: false },
    { label: 'n=1000 (20×50), raw', devices: 20, perDevice: 50, privacy: false },
    { label: 'n=10000 (200×50), raw', devices: 200, perDevice: 50, privacy: false },
    { label: 'n=100 (20×5), default privacy', devices: 20, perDevice: 5, privacy: DEFAULT_PRIVACY },
    { label: 'n=1000 (20×50), default privacy', devices: 20, perDevice: 50, privacy: DEFAULT_PRIVACY },
    { label: 'n=10000 (200×50), default privacy', devices: 200, perDevice: 50, privacy: DEFAULT_PRIVACY },
    { label: 'n=50000 (1000×50), default privacy', devices: 1000, perDevice: 50, privacy: DEFAULT_PRIVACY },
  ];
  const falseAlarms = fleets.map((fleet, i) => {
    const windows = fleet.devices * fleet.perDevice >= 50_000 ? Math.ceil(nullWindows / 4) : nullWindows;
    const outcome = runFleet({ ...fleet, shift: 0, features: F, windows }, 100 + 10 * i);
    log(`false alarms ${fleet.label}: ${outcome.falseAlarmRate.toFixed(4)} (PSI>0.1: ${outcome.naiveFalseAlarmRate.toFixed(3)}) (${elapsed()})`);
    return { ...fleet, privacy: fleet.privacy === false ? 'off' : `ε=${fleet.privacy.epsilon}`, ...outcome };
  });
  const worstFalseAlarm = Math.max(...falseAlarms.map((f) => f.falseAlarmRate));

  // BH across 16 features makes each feature's test stricter; a one-feature model has no such help.
  const singleFeature = runFleet(
    { devices: 20, perDevice: 50, shift: 0, privacy: false, features: 1, windows: quick ? 500 : 4000 },
    200,
  );
  log(`false alarms, one-feature model, n=1000 raw: ${singleFeature.falseAlarmRate.toFixed(4)} (${elapsed()})`);

  const powerWindows = quick ? 40 : 200;
  const powerNoNoise = runFleet({ devices: 200, perDevice: 50, shift: 0.1, privacy: false, features: F, windows: powerWindows }, 300);
  log(`power 0.1σ n=10000 raw: ${powerNoNoise.power.toFixed(3)} (PSI>0.1: ${powerNoNoise.naivePower.toFixed(3)}) (${elapsed()})`);

  const power0p25NoNoise = runFleet({ devices: 200, perDevice: 50, shift: 0.25, privacy: false, features: F, windows: quick ? 20 : 100 }, 350);
  log(`power 0.25σ n=10000 raw: ${power0p25NoNoise.power.toFixed(3)} (PSI>0.1: ${power0p25NoNoise.naivePower.toFixed(3)}) (${elapsed()})`);

  const curveWindows = quick ? 12 : 60;
  const epsilons = quick ? [1, 2, 4, 8] : [0.5, 1, 2, 4, 8, 16];
  const curve = epsilons.map((epsilon, i) => {
    const windows = epsilon === DEFAULT_PRIVACY.epsilon ? powerWindows : curveWindows;
    const outcome = runFleet(
      { devices: 1000, perDevice: 50, shift: 0.25, privacy: { epsilon, clip: DEFAULT_PRIVACY.clip }, features: F, windows },
      400 + 10 * i,
    );
    log(`power 0.25σ 1000×50 ε=${epsilon}: ${outcome.power.toFixed(3)} (PSI>0.1: ${outcome.naivePower.toFixed(3)}) (${elapsed()})`);
    return { epsilon, windows, ...outcome };
  });
  const powerDefault = curve.find((c) => c.epsilon === DEFAULT_PRIVACY.epsilon)!;
  const fiftyFeatures = runFleet(
    { devices: 1000, perDevice: 50, shift: 0.25, privacy: DEFAULT_PRIVACY, features: 50, windows: quick ? 6 : 30 },
    500,
  );
  log(`power 0.25σ 1000×50 default privacy, 50 features: ${fiftyFeatures.power.toFixed(3)} (${elapsed()})`);

  const metrics: BenchMetric[] = [
    { name: 'record_ns_per_inference_16_features', value: round(record.nsPerInference, 1), unit: 'ns', goal: '<= 1000' },
    { name: 'report_bytes_gzip_50_features', value: size.gzipBytes, unit: 'bytes', goal: '<= 2048' },
    { name: 'latency_quantile_max_rel_error', value: round(latency.maxRelError, 5), unit: 'ratio', goal: '<= 0.02' },
    { name: 'drift_false_alarm_rate', value: round(worstFalseAlarm, 5), unit: 'ratio', goal: '<= 0.01' },
    { name: 'drift_power_0p1sigma_n10000_no_noise', value: round(powerNoNoise.power, 4), unit: 'ratio', goal: '>= 0.8' },
    { name: 'drift_power_0p25sigma_1000x50_default_privacy', value: round(powerDefault.power, 4), unit: 'ratio', goal: '>= 0.8' },
  ];
  const info = {
    mode: quick ? 'quick' : 'full',
    seconds: (Date.now() - started) / 1000,
    setup: {
      features: F,
      bins: 10,
      referenceSize: REFERENCE_SIZE,
      windowsPerReference: WINDOWS_PER_REFERENCE,
      defaultPrivacy: DEFAULT_PRIVACY,
      privacyUnit: 'ε per report per window, event-level (one inference replaced), split evenly over the profile entries',
      test: 'noise-aware χ² + binned KS, Bonferroni per feature, Benjamini–Hochberg q = 0.01 across features, W₁ ≥ 0.01 or JS ≥ 0.02 floor',
    },
    record: { ...record, iterations: quick ? 500_000 : 2_000_000 },
    report: size,
    latency,
    falseAlarms,
    falseAlarmOneFeatureModel: singleFeature,
    powerNoNoise,
    power0p25SigmaN10000NoNoise: power0p25NoNoise,
    powerCurve0p25Sigma1000x50: curve,
    power0p25Sigma1000x50DefaultPrivacy50Features: fiftyFeatures,
  };
  return { metrics, info };
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

/**
 * Writes the results, keeping metrics (by name) and info keys from the existing file that this
 * result does not carry, so e.g. an ingest benchmark can add `ingest_ratio_vs_hono_post` with
 * `writeBenchResults({ metrics: [ingestMetric], info: { ingest: details } })` without erasing these.
 */
export function writeBenchResults(result: BenchResult, path = RESULTS_PATH): void {
  let kept: BenchMetric[] = [];
  let keptInfo: Record<string, unknown> = {};
  try {
    const previous = JSON.parse(readFileSync(path, 'utf8')) as { metrics?: BenchMetric[]; info?: Record<string, unknown> };
    const names = new Set(result.metrics.map((m) => m.name));
    kept = (previous.metrics ?? []).filter((m) => !names.has(m.name));
    keptInfo = previous.info ?? {};
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(path), { recursive: true });
  const info = { ...keptInfo, ...result.info };
  writeFileSync(path, `${JSON.stringify({ suite: 'telemetry', metrics: [...result.metrics, ...kept], info }, null, 2)}\n`);
}

function meets(metric: BenchMetric): boolean {
  const [op, bound] = metric.goal.split(' ');
  return op === '<=' ? metric.value <= Number(bound) : metric.value >= Number(bound);
}

function printTable(result: BenchResult): void {
  const rows = result.metrics.map((m) => [m.name, `${m.value} ${m.unit}`, m.goal, meets(m) ? 'ok' : 'MISSED']);
  const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c]!.length), 6));
  console.log('');
  for (const r of [['metric', 'value', 'goal', ''], ...rows]) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
  const info = result.info as {
    falseAlarms: Array<{ label: string; falseAlarmRate: number; naiveFalseAlarmRate: number; featureWindows: number }>;
    falseAlarmOneFeatureModel: FleetOutcome;
    powerNoNoise: FleetOutcome;
    power0p25SigmaN10000NoNoise: FleetOutcome;
    power0p25Sigma1000x50DefaultPrivacy50Features: FleetOutcome;
    powerCurve0p25Sigma1000x50: Array<{ epsilon: number; power: number; naivePower: number; windows: number }>;
  };
  console.log('\nfalse alarms per feature-window (no shift), this test vs naive PSI > 0.1:');
  for (const f of info.falseAlarms) {
    console.log(`  ${f.label.padEnd(36)} ${f.falseAlarmRate.toFixed(4).padStart(7)}   PSI>0.1: ${f.naiveFalseAlarmRate.toFixed(3)}   (${f.featureWindows} feature-windows)`);
  }
  const one = info.falseAlarmOneFeatureModel;
  console.log(`  one-feature model, n=1000 (20×50), raw   ${one.falseAlarmRate.toFixed(4).padStart(7)}   PSI>0.1: ${one.naiveFalseAlarmRate.toFixed(3)}   (${one.featureWindows} windows; not in the metric)`);
  console.log(`\npower, 0.1σ shift, n = 10,000, no noise: ${info.powerNoNoise.power.toFixed(3)}   PSI>0.1: ${info.powerNoNoise.naivePower.toFixed(3)}`);
  console.log(`power, 0.25σ shift, n = 10,000, no noise: ${info.power0p25SigmaN10000NoNoise.power.toFixed(3)}   PSI>0.1: ${info.power0p25SigmaN10000NoNoise.naivePower.toFixed(3)}`);
  console.log('\npower curve, 0.25σ shift, 1,000 devices × 50 inferences, 16 features, against ε per report:');
  for (const c of info.powerCurve0p25Sigma1000x50) {
    console.log(`  ε = ${String(c.epsilon).padEnd(4)} power ${c.power.toFixed(3)}   PSI>0.1: ${c.naivePower.toFixed(3)}   (${c.windows} windows)`);
  }
  const fifty = info.power0p25Sigma1000x50DefaultPrivacy50Features;
  console.log(`  same at default ε but 50 features (ε/50 per histogram): power ${fifty.power.toFixed(3)}`);
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
