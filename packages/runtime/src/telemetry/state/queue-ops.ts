import type { TelemetryState } from '../telemetry-storage.js';

/** Removes reports by id (delivered, or refused for good). Runs inside a storage transaction. */
export function removeReports(state: TelemetryState, reportIds: readonly string[]): void {
  const gone = new Set(reportIds);
  state.queue = state.queue.filter((r) => !gone.has(r.reportId));
}

/** Removes reports the server would refuse as too old; returns their ids. Runs inside a storage transaction. */
export function expireReports(state: TelemetryState, now: number): string[] {
  const expired = state.queue.filter((r) => r.expiresAt < now).map((r) => r.reportId);
  if (expired.length > 0) removeReports(state, expired);
  return expired;
}
