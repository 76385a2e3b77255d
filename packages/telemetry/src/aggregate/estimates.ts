import { ERROR_KINDS, LATENCY_UNITS_PER_OCTAVE } from '../config/telemetry-config.js';
import { krrProbabilities, rrKeepProbability } from '../privacy/mechanisms.js';
import { LAPLACE_FIELDS, RR_FIELDS, type LaplaceFieldName, type ReleaseCell, type RrFieldName } from './release-cell.js';

/**
 * Unbiased estimates from released cells. The unit is the report (one device over one period):
 * means are over reports, and `variance` is the sample variance of the per-report (debiased) values,
 * so it holds the on-device noise and the between-device heterogeneity together, with nothing
 * assumed about either.
 */
export interface Estimate {
  /** Reports behind the estimate. */
  n: number;
  /** Mean of the per-report values (a share for randomized-response fields). */
  mean: number;
  /** Sample variance of the per-report debiased values (0 when n < 2). */
  variance: number;
  /** Standard error of the mean: √(variance / n). */
  se: number;
}

const EMPTY: Estimate = Object.freeze({ n: 0, mean: 0, variance: 0, se: 0 });

/**
 * Share of 1s behind binary randomized responses. A report that said o under keep probability p is
 * worth x = (o − (1 − p)) / (2p − 1), which has expectation equal to the true bit; groups with
 * different ε mix exactly because each report is debiased with its own p.
 */
export function rrEstimate(groups: ReadonlyArray<{ epsilon: number; n: number; ones: number }>): Estimate {
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  for (const g of groups) {
    if (g.n === 0) continue;
    const p = rrKeepProbability(g.epsilon);
    const one = p / (2 * p - 1);
    const zero = (p - 1) / (2 * p - 1);
    n += g.n;
    sum += g.ones * one + (g.n - g.ones) * zero;
    sumSq += g.ones * one * one + (g.n - g.ones) * zero * zero;
  }
  return moments(n, sum, sumSq);
}

/** Mean of a Laplace-noised field (the noise has mean 0) and the variance of its per-report values. */
export function sumEstimate(stat: { n: number; sum: number; sumSq: bigint } | undefined): Estimate {
  if (stat === undefined || stat.n === 0) return EMPTY;
  // Σx² may exceed 2^53; the variance only needs it to double precision.
  return moments(stat.n, stat.sum, Number(stat.sumSq));
}

/** Debiased share of each error kind among reports (k-ary randomized response), in {@link ERROR_KINDS} order. */
export function errorKindShares(groups: ReadonlyArray<{ epsilon: number; counts: readonly number[] }>): number[] {
  const k = ERROR_KINDS.length;
  const numerator = new Array<number>(k).fill(0);
  let scale = 0;
  for (const g of groups) {
    const n = g.counts.reduce((a, b) => a + b, 0);
    if (n === 0) continue;
    const { p, q } = krrProbabilities(k, g.epsilon);
    for (let i = 0; i < k; i++) numerator[i]! += (g.counts[i] ?? 0) - n * q;
    scale += n * (p - q);
  }
  return numerator.map((x) => (scale === 0 ? 0 : x / scale));
}

/** Every field of a cell as an {@link Estimate} (latency in latency units: see {@link unitsToMs}). */
export interface CellEstimates {
  reports: number;
  rr: Record<RrFieldName, Estimate>;
  laplace: Record<LaplaceFieldName, Estimate>;
  errorKinds: Record<string, number>;
  counters: Record<string, Estimate>;
}

export function estimateCell(cell: ReleaseCell): CellEstimates {
  const kinds = errorKindShares(cell.errorKindGroups());
  return {
    reports: cell.reports,
    rr: Object.fromEntries(RR_FIELDS.map((f) => [f, rrEstimate(cell.rrGroups(f))])) as Record<RrFieldName, Estimate>,
    laplace: Object.fromEntries(LAPLACE_FIELDS.map((f) => [f, sumEstimate(cell.sumStat(f))])) as Record<LaplaceFieldName, Estimate>,
    errorKinds: Object.fromEntries(ERROR_KINDS.map((kind, i) => [kind, kinds[i]!])),
    counters: Object.fromEntries(cell.counterNames().map((c) => [c, sumEstimate(cell.sumStat(`counter:${c}`))])),
  };
}

/** Latency units (8·log₂ ms) → milliseconds; a mean of units is a geometric mean of milliseconds. */
export function unitsToMs(units: number): number {
  return 2 ** (units / LATENCY_UNITS_PER_OCTAVE);
}

/** An {@link Estimate} from n, Σx and Σx² of per-report values. */
export function estimateFromMoments(n: number, sum: number, sumSq: number): Estimate {
  return moments(n, sum, sumSq);
}

function moments(n: number, sum: number, sumSq: number): Estimate {
  if (n === 0) return EMPTY;
  const mean = sum / n;
  const variance = n < 2 ? 0 : Math.max(0, (sumSq - n * mean * mean) / (n - 1));
  return { n, mean, variance, se: Math.sqrt(variance / n) };
}
