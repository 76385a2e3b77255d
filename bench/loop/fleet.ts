/**
 * The simulated fleet of `npm run bench:loop`: devices with persistent traits (backend, install id,
 * error-proneness, speed, feature offsets) whose every accounting period becomes one report,
 * privatized with @edgeloop/telemetry's own mechanisms under the default config.
 *
 * Model (documented in docs/rollouts.md, "The fleet simulator"):
 * - 50 inferences per device-day; 30 % of devices on WebGPU, the rest on WASM;
 * - errors: per-inference probability p_i with logit(p_i) ~ N(μ, σ²), σ² = 0.3/0.7 · π²/3 so that the
 *   intra-class correlation on the latent scale is 0.3, μ so that E[p] = 1 %;
 * - latency: lognormal per inference, log-sd σ_w = 0.3 within a device, device medians lognormal with
 *   σ_b² = 0.3/0.7 · σ_w² (ICC 0.3); a period's p50 / p95 are the order statistics the runtime takes
 *   (the ⌈q·n⌉-th of n), drawn exactly through Beta(k, n + 1 − k) quantile tables;
 * - features: 16 (14 inputs, 2 outputs), N(0, 1) in the reference; a device's values share a
 *   N(0, 0.3) offset (ICC 0.3); a report carries one value of one feature, as the runtime does.
 */
import {
  ERROR_KINDS,
  INFERENCES_CLIP,
  LATENCY_UNITS_PER_OCTAVE,
  clippedLaplace,
  kRandomizedResponse,
  latencyRange,
  randomizedResponseBit,
  type ReferenceProfile,
  type Rng,
  type TelemetryConfig,
} from '@edgeloop/telemetry';

/** The model the simulated fleet runs, and the release each arm runs (A: control, B: candidate). */
export const MODEL = 'vad';
export const VERSIONS = { A: '5.0.0', B: '6.0.0' } as const;
export const BACKENDS = ['wasm', 'webgpu'] as const;
export type Backend = (typeof BACKENDS)[number];
export const FEATURES = 16;
export const OUTPUT_FEATURES: readonly number[] = [14, 15];
export const INFERENCES_PER_DAY = 50;
export const ICC = 0.3;
const SIGMA_W = 0.3;
const SIGMA_B = Math.sqrt((ICC / (1 - ICC)) * SIGMA_W * SIGMA_W);
const LOGIT_SIGMA = Math.sqrt(((ICC / (1 - ICC)) * (Math.PI * Math.PI)) / 3);
export const BASE_MEDIAN_MS: Readonly<Record<Backend, number>> = { wasm: 12, webgpu: 6 };
/** A device's p95 over its p50 under the model: e^(1.645·σ_w). */
export const P95_OVER_P50 = Math.exp(1.6449 * SIGMA_W);

export interface Fleet {
  size: number;
  installIds: string[];
  backend: Uint8Array;
  errorProbability: Float64Array;
  logMedian: Float64Array;
  /** Per device, per feature: the device's offset on each feature. */
  featureOffset: Float32Array;
}

/** What the candidate release does differently (a scenario). */
export interface Effect {
  /** Multiplies the per-inference error probability (per backend). */
  errorMultiplier?: Partial<Record<Backend, number>>;
  /** Multiplies every latency (per backend). */
  latencyMultiplier?: Partial<Record<Backend, number>>;
  /** Shifts output feature values by this many reference σ. */
  outputShift?: number;
  /** The release fails its golden checks on WebGPU: those devices run it on WASM and count a fallback. */
  nanOnWebgpu?: boolean;
  /** The release crashes its worker: every device that gets it reverts at its next start. */
  crashLoop?: boolean;
}

export function createFleet(size: number, rng: Rng): Fleet {
  const normal = normalSource(rng);
  const mu = logitMean(0.01);
  const fleet: Fleet = {
    size,
    installIds: new Array<string>(size),
    backend: new Uint8Array(size),
    errorProbability: new Float64Array(size),
    logMedian: new Float64Array(size),
    featureOffset: new Float32Array(size * FEATURES),
  };
  for (let i = 0; i < size; i++) {
    fleet.installIds[i] = `device-${i.toString(36)}-${Math.floor(rng.next() * 2 ** 32).toString(36)}`;
    const backend = rng.next() < 0.3 ? 1 : 0;
    fleet.backend[i] = backend;
    fleet.errorProbability[i] = 1 / (1 + Math.exp(-(mu + LOGIT_SIGMA * normal())));
    fleet.logMedian[i] = Math.log(BASE_MEDIAN_MS[BACKENDS[backend]!]) + SIGMA_B * normal();
    for (let f = 0; f < FEATURES; f++) fleet.featureOffset[i * FEATURES + f] = Math.sqrt(ICC) * normal();
  }
  return fleet;
}

/** One report entry before privatization: what the device ran over its period and how it went. */
export interface PeriodEntry {
  device: number;
  version: 'A' | 'B';
  backend: Backend;
  arm: 'candidate' | 'control' | null;
  step: number;
  effect: Effect | null;
  /** The device reverted a trial of this model during the period. */
  reverted: boolean;
  /** The release fell back to another backend on this device. */
  fellBack: boolean;
  /** The device's worker crashed running the release (two failed inferences of kind `worker`). */
  crashed: boolean;
  /** When the period started (simulated ms): the report's `period` is its hour. */
  periodStart: number;
}

/** The privatized values of one entry: exactly what its schema-3 report entry carries. */
export interface NoisedEntry {
  errored: 0 | 1;
  errorKind: number;
  latencyP50: number;
  latencyP95: number;
  reverted: 0 | 1;
  fellBack: 0 | 1;
  inferences: number;
  feature: number;
  cell: number;
}

/**
 * Privatizes one entry with the config's ε per field (one entry per report: E = 1) — the same
 * mechanisms and the same true-value definitions as `sealReport`. Writes into `out` (no allocation).
 */
export function noiseEntry(fleet: Fleet, entry: PeriodEntry, config: TelemetryConfig, profile: ReferenceProfile, rng: Rng, normal: () => number, out: NoisedEntry): NoisedEntry {
  const i = entry.device;
  const effect = entry.effect;
  const backend = entry.backend;
  const p = Math.min(1, fleet.errorProbability[i]! * (effect?.errorMultiplier?.[backend] ?? 1));
  const errors = binomial(INFERENCES_PER_DAY, p, rng) + (entry.crashed ? 2 : 0);
  const successes = Math.max(0, INFERENCES_PER_DAY - errors);
  const logMedian = fleet.logMedian[i]! + Math.log(effect?.latencyMultiplier?.[backend] ?? 1);
  const h = config.health;
  out.errored = randomizedResponseBit(errors > 0 ? 1 : 0, h.errored.epsilon, rng);
  out.errorKind = kRandomizedResponse(errors > 0 ? (entry.crashed ? WORKER : ENGINE) : 0, ERROR_KINDS.length, h.errorKind.epsilon, rng);
  out.latencyP50 = latencyField(logMedian, successes, 0.5, latencyRange(config, MODEL, backend, 'latencyP50'), h.latencyP50.epsilon, rng);
  out.latencyP95 = latencyField(logMedian, successes, 0.95, latencyRange(config, MODEL, backend, 'latencyP95'), h.latencyP95.epsilon, rng);
  out.reverted = randomizedResponseBit(entry.reverted ? 1 : 0, h.reverted.epsilon, rng);
  out.fellBack = randomizedResponseBit(entry.fellBack ? 1 : 0, h.fellBack.epsilon, rng);
  out.inferences = clippedLaplace(Math.min(successes, INFERENCES_CLIP), INFERENCES_CLIP, h.inferences.epsilon, rng);
  const feature = Math.floor(rng.next() * FEATURES);
  const shift = effect?.outputShift !== undefined && entry.version === 'B' && OUTPUT_FEATURES.includes(feature) ? effect.outputShift : 0;
  const value = Math.fround(fleet.featureOffset[i * FEATURES + feature]! + Math.sqrt(1 - ICC) * normal() + shift);
  const edges = profile.numeric[feature]!.edges;
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (Math.fround(edges[mid]!) <= value) lo = mid + 1;
    else hi = mid;
  }
  out.feature = feature;
  out.cell = kRandomizedResponse(lo, edges.length + 2, config.drift.epsilon, rng);
  return out;
}

const ENGINE = ERROR_KINDS.indexOf('engine');
const WORKER = ERROR_KINDS.indexOf('worker');

/** The latency field: the ⌈q·n⌉-th of n lognormal values, in clipped latency units, with its noise. */
function latencyField(logMedian: number, n: number, q: number, range: { center: number; halfRange: number }, epsilon: number, rng: Rng): number {
  const clip = 2 * range.halfRange;
  let units = range.halfRange;
  if (n > 0) {
    const k = Math.max(1, Math.ceil(q * n));
    const z = orderStatisticZ(k, n, rng);
    const raw = Math.round((LATENCY_UNITS_PER_OCTAVE * (logMedian + SIGMA_W * z)) / Math.LN2);
    units = Math.min(clip, Math.max(0, raw - (range.center - range.halfRange)));
  }
  return clippedLaplace(units, clip, epsilon, rng);
}

const ORDER_TABLE_SIZE = 4096;
const orderTables = new Map<number, Float64Array>();

/**
 * Φ⁻¹ of the k-th of n uniform order statistics, U_(k) ~ Beta(k, n + 1 − k): drawn from a table of its
 * 4,096 quantiles (computed exactly once per (k, n): P(U_(k) ≤ x) = P(Binomial(n, x) ≥ k), inverted
 * by bisection), so each draw costs one random number (resolution 1/4096 in probability).
 */
function orderStatisticZ(k: number, n: number, rng: Rng): number {
  const key = n * 1024 + k;
  let table = orderTables.get(key);
  if (table === undefined) {
    table = new Float64Array(ORDER_TABLE_SIZE);
    for (let t = 0; t < ORDER_TABLE_SIZE; t++) {
      const u = (t + 0.5) / ORDER_TABLE_SIZE;
      let lo = 0;
      let hi = 1;
      for (let it = 0; it < 50; it++) {
        const mid = (lo + hi) / 2;
        if (orderStatisticCdf(k, n, mid) < u) lo = mid;
        else hi = mid;
      }
      table[t] = normalQuantile((lo + hi) / 2);
    }
    orderTables.set(key, table);
  }
  return table[Math.floor(rng.next() * ORDER_TABLE_SIZE)]!;
}

/** P(U_(k) ≤ x) for the k-th of n uniforms = P(Binomial(n, x) ≥ k). */
function orderStatisticCdf(k: number, n: number, x: number): number {
  let below = 0;
  let term = (1 - x) ** n; // P(Binomial = 0)
  for (let j = 0; j < k; j++) {
    below += term;
    term *= ((n - j) / (j + 1)) * (x / (1 - x));
  }
  return 1 - below;
}

/** Binomial(n, p) by inversion (the mean is small here: n ≤ 50, p ≈ 1 %). */
function binomial(n: number, p: number, rng: Rng): number {
  if (p <= 0) return 0;
  if (p >= 1) return n;
  const q = 1 - p;
  let pmf = q ** n;
  let cdf = pmf;
  const u = rng.next();
  let k = 0;
  while (u > cdf && k < n) {
    pmf *= ((n - k) / (k + 1)) * (p / q);
    k += 1;
    cdf += pmf;
  }
  return k;
}

/** Standard normal draws (Box–Muller, both values used). */
export function normalSource(rng: Rng): () => number {
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

/** μ with E[sigmoid(μ + σZ)] = target, by bisection on a fixed quadrature. */
function logitMean(target: number): number {
  const nodes = 2000;
  const mean = (mu: number) => {
    let total = 0;
    for (let k = 0; k < nodes; k++) total += 1 / (1 + Math.exp(-(mu + LOGIT_SIGMA * normalQuantile((k + 0.5) / nodes))));
    return total / nodes;
  };
  let lo = -15;
  let hi = 5;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    if (mean(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Φ⁻¹(u), Acklam's rational approximation (relative error < 1.2e-9). */
export function normalQuantile(u: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549671010322563, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const pl = 0.02425;
  if (u < pl) {
    const q = Math.sqrt(-2 * Math.log(u));
    return (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  if (u > 1 - pl) {
    const q = Math.sqrt(-2 * Math.log(1 - u));
    return -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  const q = u - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}
