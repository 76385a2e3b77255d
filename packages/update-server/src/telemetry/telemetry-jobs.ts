import { MAX_REPORT_AGE_MS } from '@edgeloop/telemetry';
import type { Database } from '../db/database.js';
import type { Job } from '../jobs/jobs.js';
import type { TelemetryConfigStore } from './config/config-store.js';
import { narrowLatencyRanges } from './config/narrow-latency.js';
import { releaseClosedWindows } from './releases/release-job.js';
import type { ReportFloor } from './report-floor.js';
import { HOURLY, type WindowStore, type WindowTiming } from './window-store.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const TELEMETRY_JOBS = {
  release: 'telemetry.release',
  prune: 'telemetry.prune',
  narrowLatency: 'telemetry.narrow-latency',
} as const;

/**
 * How long report ids are remembered for replay protection: at least 4 days, and longer than a
 * report of the configured period can be admitted — from one period before it starts (a device
 * clock ahead) until max(48 h, 2 periods) + 1 period after — so a replay is refused for its age
 * before its id is forgotten.
 */
export function reportIdRetentionMs(periodMs: number): number {
  return Math.max(4 * DAY, Math.max(MAX_REPORT_AGE_MS, 2 * periodMs) + 2 * periodMs + HOUR);
}

/** The telemetry jobs `createApp` registers (jobs/jobs.ts runs them). */
export function telemetryJobs(deps: { db: Database; configs: TelemetryConfigStore; windows: WindowStore; floor: ReportFloor; timing?: WindowTiming }): Job[] {
  const timing = deps.timing ?? HOURLY;
  return [
    {
      // Hours close 2 min after they end; checking every minute releases each within a minute of
      // closing (a demo's shorter windows: within a quarter window).
      name: TELEMETRY_JOBS.release,
      everyMs: Math.min(MINUTE, timing.windowMs / 4),
      run: (now) => releaseClosedWindows(deps.db, { now, minReports: deps.floor.minReports, timing }),
    },
    {
      name: TELEMETRY_JOBS.prune,
      everyMs: HOUR,
      run: (now) => deps.windows.pruneReportIds(new Date(now.getTime() - reportIdRetentionMs(deps.configs.settings.periodMs))),
    },
    {
      name: TELEMETRY_JOBS.narrowLatency,
      everyMs: HOUR,
      run: (now) => narrowLatencyRanges({ db: deps.db, configs: deps.configs }, now),
    },
  ];
}
