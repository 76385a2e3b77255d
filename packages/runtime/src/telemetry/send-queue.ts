import { deviceRoutes } from '@edgeloop/protocol';
import { backoffDelay, postReports, type RetryOptions } from './send.js';
import { expireReports, removeReports } from './state/queue-ops.js';
import type { QueuedReport, TelemetryState } from './telemetry-storage.js';

export type { RetryOptions } from './send.js';

/** What the sender needs from its collector, and the backoff it keeps between sends. */
export interface SendState {
  app: string;
  baseUrl: URL;
  fetch: typeof fetch;
  maxBatchReports: number;
  maxBatchBytes: number;
  retry: RetryOptions;
  now: () => number;
  random: () => number;
  /** Failed sends in a row (backoff exponent). */
  attempt: number;
  /** No request before this time (a 429 or 503 with Retry-After). */
  notBefore: number;
  retryTimer: ReturnType<typeof setTimeout> | undefined;
  read(): Promise<TelemetryState>;
  transact<T>(change: (state: TelemetryState) => T): Promise<T>;
  scheduleRetry(delayMs: number): void;
}

/**
 * Sends queued reports oldest first, in batches of at most `maxBatchReports` reports and
 * `maxBatchBytes` bytes: 2xx removes them; 429 and 5xx keep them and back off (honouring
 * Retry-After); any other 4xx drops the batch (sending it again would fail again). Reports past
 * their period's deadline are dropped unsent. Bounded: 32 requests per call at most.
 */
export async function sendQueued(s: SendState, keepalive: boolean): Promise<{ sent: number; dropped: number; error?: string }> {
  const now = s.now();
  if (now < s.notBefore) {
    return { sent: 0, dropped: 0, error: `telemetry kept for the next flush: the server asked to wait until ${new Date(s.notBefore).toISOString()}` };
  }
  const url = new URL(deviceRoutes.telemetry(s.app), s.baseUrl).href;
  let sent = 0;
  let dropped = (await s.transact((state) => expireReports(state, now))).length;
  let error: string | undefined;
  for (let round = 0; round < 32; round++) {
    const queued = (await s.read()).queue.slice(0, s.maxBatchReports);
    if (queued.length === 0) break;
    const batch: QueuedReport[] = [];
    let bytes = 2;
    for (const report of queued) {
      if (batch.length > 0 && bytes + report.body.length + 1 > s.maxBatchBytes) break;
      batch.push(report);
      bytes += report.body.length + 1;
    }
    const ids = batch.map((r) => r.reportId);
    const outcome = await postReports(s.fetch, url, batch.map((r) => r.body), keepalive, s.now);
    if (outcome.kind === 'sent') {
      await s.transact((state) => removeReports(state, ids));
      sent += batch.reduce((n, r) => n + r.entries.length, 0);
      s.attempt = 0;
      continue;
    }
    if (outcome.kind === 'drop') {
      await s.transact((state) => removeReports(state, ids));
      dropped += batch.length;
      error = `telemetry refused and dropped: ${outcome.reason}`;
      continue;
    }
    const delay = Math.max(backoffDelay(s.attempt, s.retry, s.random), outcome.retryAfterMs ?? 0);
    s.attempt += 1;
    if (outcome.retryAfterMs !== undefined) s.notBefore = s.now() + outcome.retryAfterMs;
    s.scheduleRetry(delay);
    return { sent, dropped, error: `telemetry not delivered, kept for the next flush: ${outcome.reason}` };
  }
  return { sent, dropped, ...(error !== undefined && { error }) };
}
