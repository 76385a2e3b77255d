import { estimateCell, unitsToMs, type Estimate, type ReleaseCell } from '@edgeloop/telemetry';

/** A point estimate with its 95 % interval (normal approximation: ± 1.96 standard errors). */
export interface Interval {
  value: number;
  low: number;
  high: number;
}

/**
 * What every view shows of a merged cell. All of it is estimated from the noised reports
 * (`estimateCell`); the unit is the device-period (one device over one accounting period, one report).
 */
export interface HealthNumbers {
  /** Reports (device-periods) behind the numbers; never below the floor. */
  reports: number;
  /** Share of device-periods with at least one failed inference. */
  errored: Interval;
  /** Per error kind, the share of device-periods whose most frequent error was of that kind (`none`: no error). */
  errorKinds: Record<string, number>;
  /** Geometric mean over device-periods of each device's median latency, ms. */
  latencyP50Ms: Interval;
  /** Geometric mean over device-periods of each device's 95th-percentile latency, ms. */
  latencyP95Ms: Interval;
  /** Successful inferences per device-period (each device's count clipped at 100 before noise). */
  inferences: Interval;
  /** Share of device-periods in which a trial of the model was reverted on the device. */
  reverted: Interval;
  /** Share of device-periods in which the backend was lost and the model fell back to another. */
  fellBack: Interval;
  /** Per app-defined counter, its mean per device-period (each device's value clipped before noise). */
  counters: Record<string, Interval>;
}

const Z95 = 1.959963984540054;

/** The numbers of a merged cell, as {@link HealthNumbers} explains them. */
export function healthNumbers(cell: ReleaseCell): HealthNumbers {
  const e = estimateCell(cell);
  return {
    reports: e.reports,
    errored: share(e.rr.errored),
    errorKinds: Object.fromEntries(Object.entries(e.errorKinds).map(([kind, x]) => [kind, clamp(x, 0, 1)])),
    latencyP50Ms: latency(e.laplace.latencyP50),
    latencyP95Ms: latency(e.laplace.latencyP95),
    inferences: count(e.laplace.inferences),
    reverted: share(e.rr.reverted),
    fellBack: share(e.rr.fellBack),
    counters: Object.fromEntries(Object.entries(e.counters).map(([name, x]) => [name, count(x)])),
  };
}

/**
 * Debiased randomized-response shares can fall outside [0, 1] by noise; they are shown clamped to
 * it (the interval too), which is what the true share can be.
 */
function share(x: Estimate): Interval {
  return { value: clamp(x.mean, 0, 1), low: clamp(x.mean - Z95 * x.se, 0, 1), high: clamp(x.mean + Z95 * x.se, 0, 1) };
}

/** A mean of latency units is a geometric mean of milliseconds; the interval maps through the same exponential. */
function latency(x: Estimate): Interval {
  return { value: round(unitsToMs(x.mean)), low: round(unitsToMs(x.mean - Z95 * x.se)), high: round(unitsToMs(x.mean + Z95 * x.se)) };
}

/** Counts are never negative; noise can make their mean so, and it is shown clamped at 0. */
function count(x: Estimate): Interval {
  return { value: Math.max(0, x.mean), low: Math.max(0, x.mean - Z95 * x.se), high: Math.max(0, x.mean + Z95 * x.se) };
}

function clamp(x: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, x));
}

function round(ms: number): number {
  return Number(ms.toPrecision(4));
}
