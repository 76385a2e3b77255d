import { RuntimeError } from '../errors.js';
import type { RetryOptions } from './send.js';
import type { TelemetryStorage } from './telemetry-storage.js';

/** Period length used until a verified manifest brings a telemetry config: the default config's, one day. */
export const DEFAULT_PERIOD_MS = 86_400_000;
/** The device's own cap on ε per UTC day, whatever a server's config asks for. */
export const DEFAULT_EPSILON_PER_DAY = 8;

/** Runtime-wide telemetry settings (`RuntimeOptions.telemetry`); every field has a default. */
export interface TelemetryOptions {
  /**
   * Where raw period counts, the privacy budget and sealed reports live. Default IndexedDB
   * (`indexedDbTelemetryStorage()`) where it exists, else memory; in Node pass
   * `fileTelemetryStorage(dir)` from `@edgeloop/runtime/node`.
   */
  storage?: TelemetryStorage;
  privacy?: {
    /**
     * This device's cap on the ε it spends per UTC day, over every report it seals. A telemetry
     * config whose reports could spend more is refused: nothing is sealed or sent under it. Default 8.
     */
    epsilonPerDay?: number;
  };
  /** Sealed reports kept while offline at most; the oldest are dropped first. Default 64. */
  maxQueuedReports?: number;
  /** Reports per request at most. Default 16. */
  maxBatchReports?: number;
  /** Bytes per request at most (the server refuses more than 64 KiB; keepalive allows 64 KiB). Default 60,000. */
  maxBatchBytes?: number;
  /** Backoff after a failed send. */
  retry?: RetryOptions;
  /** Seal and send at start, at each period boundary (spread over its first minute) and retry on a timer. Default true. */
  autoFlush?: boolean;
  /**
   * Store counts and send when the page is hidden (`visibilitychange` → hidden, `pagehide`), with
   * `keepalive` so the request outlives the page. Default: on where `document` exists.
   */
  flushOnPageHide?: boolean;
  /** How often counts recorded in memory are merged into storage, ms. Default 5,000. */
  mergeIntervalMs?: number;
  /** Clock and jitter, for tests. */
  now?: () => number;
  random?: () => number;
}

export interface FlushResult {
  /** Report entries delivered (0 when there was nothing to send). */
  sent: number;
  /** Set when reports could not be made or delivered; they stay for the next flush. */
  error?: string;
  /** Periods and reports dropped: refused by the server (4xx other than 429), too old, over the daily cap, or pushed out of a full queue. */
  dropped?: number;
}

/** The settings with their defaults, checked: a bad one fails at construction with a message that names the fix. */
export function resolveTelemetryOptions(s: TelemetryOptions) {
  if ((s.privacy as unknown) === false) {
    throw new RuntimeError(
      'invalid_argument',
      'telemetry.privacy: false no longer exists: the server accepts only privatized schema-3 reports. Remove it; set telemetry.privacy.epsilonPerDay to cap what this device spends',
    );
  }
  const epsilonPerDay = s.privacy?.epsilonPerDay ?? DEFAULT_EPSILON_PER_DAY;
  if (!(epsilonPerDay > 0) || !Number.isFinite(epsilonPerDay)) {
    throw new RuntimeError('invalid_argument', `telemetry.privacy.epsilonPerDay must be a finite number > 0, got ${epsilonPerDay}`);
  }
  const mergeIntervalMs = s.mergeIntervalMs ?? 5_000;
  if (!(mergeIntervalMs >= 100)) throw new RuntimeError('invalid_argument', `telemetry.mergeIntervalMs must be at least 100, got ${mergeIntervalMs}`);
  return {
    epsilonPerDay,
    mergeIntervalMs,
    maxQueuedReports: s.maxQueuedReports ?? 64,
    maxBatchReports: s.maxBatchReports ?? 16,
    maxBatchBytes: s.maxBatchBytes ?? 60_000,
    retry: s.retry ?? {},
    autoFlush: s.autoFlush ?? true,
    flushOnPageHide: s.flushOnPageHide ?? typeof document !== 'undefined',
    now: s.now ?? Date.now,
    random: s.random ?? Math.random,
  };
}
