import { ServerError } from '../errors.js';
import { isLoopback } from './report-floor.js';
import { GRACE_MS, HOURLY, WINDOW_MS, type WindowTiming } from './window-store.js';

/** The shortest demo window. */
const MIN_DEMO_WINDOW_MS = 60_000;

/**
 * The window timing a server runs with: hourly, closed 2 minutes after the hour (the contract), or
 * for a local demo (`telemetry: { demo: true, windowMs }` on a loopback host) shorter windows, so
 * a page shows its first release within a minute or two. A demo window divides the hour (views
 * take whole hours, and the rollout gate still decides once per closed hour) and is closed a
 * quarter window after it ends. Anything else is refused, with the fix.
 */
export function windowTiming(options: { windowMs?: number; demo?: boolean; host?: string }): WindowTiming {
  const { windowMs } = options;
  if (windowMs === undefined || windowMs === WINDOW_MS) return HOURLY;
  if (!Number.isInteger(windowMs) || windowMs < MIN_DEMO_WINDOW_MS || WINDOW_MS % windowMs !== 0) {
    throw new ServerError('bad_request', `telemetry windowMs must be a whole number of ms ≥ ${MIN_DEMO_WINDOW_MS} that divides an hour (e.g. 60000 or 300000), got ${windowMs}`);
  }
  if (options.demo !== true) {
    throw new ServerError('bad_request', `telemetry windowMs ${windowMs} is shorter than an hour: set telemetry.demo (edgeloop serve --telemetry-demo) to shorten windows for a local demo, or remove it`);
  }
  if (options.host === undefined || !isLoopback(options.host)) {
    throw new ServerError('bad_request', `telemetry windowMs ${windowMs} is a demo setting and needs a loopback host (127.0.0.1, ::1 or localhost), got ${options.host ?? 'none'}; pass host when calling createApp`);
  }
  return { windowMs, graceMs: Math.min(GRACE_MS, windowMs / 4) };
}
