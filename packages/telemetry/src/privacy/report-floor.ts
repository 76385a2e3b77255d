/** Below this many reports an aggregate is never shown (k-anonymity-style floor on top of the noise). */
export const DEFAULT_MIN_REPORTS = 20;

/** An aggregate that is shown only from {@link DEFAULT_MIN_REPORTS} reports up. */
export type Floored<T> =
  | { shown: true; reports: number; value: T }
  | { shown: false; reports: number; minReports: number };

/**
 * Computes `value` only if at least `minReports` reports went into the aggregate; otherwise says
 * how many are missing and computes nothing, so no number derived from few devices can leak.
 *
 * @example
 * applyReportFloor(aggregate.reports, () => latencyQuantiles(aggregate));
 */
export function applyReportFloor<T>(reports: number, value: () => T, minReports = DEFAULT_MIN_REPORTS): Floored<T> {
  return reports >= minReports ? { shown: true, reports, value: value() } : { shown: false, reports, minReports };
}
