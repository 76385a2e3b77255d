import type { PrivacyBudgetStore } from '@edgeloop/telemetry';

/** A sealed report waiting to be sent: the exact JSON, sent as is on every retry (the server dedups by id). */
export interface QueuedReport {
  reportId: string;
  /** The report's JSON text. */
  body: string;
  /** When it was sealed, ms since the epoch: reports older than the server's window are dropped unsent. */
  sealedAt: number;
  /** What it carries, for `pending()`. */
  models: Array<{ model: string; version: string; backend: string; inferences: number; errors: number }>;
}

/**
 * Where telemetry waits while offline, and the privacy budget: an adapter passed in (IndexedDB in
 * browsers, memory for tests and short-lived processes), never detected at import time.
 */
export interface TelemetryStorage {
  /** Adds a report; beyond `maxReports` the oldest ones are dropped. Resolves with the ids dropped. */
  enqueue(report: QueuedReport, maxReports: number): Promise<string[]>;
  /** Up to `limit` reports, oldest first. */
  peek(limit: number): Promise<QueuedReport[]>;
  remove(reportIds: readonly string[]): Promise<void>;
  /** The device's privacy budget record (see @edgeloop/telemetry's PrivacyBudget). */
  readonly budget: PrivacyBudgetStore;
  close?(): void;
}

/** Telemetry storage in memory: lost when the process ends. */
export function memoryTelemetryStorage(): TelemetryStorage {
  let queue: QueuedReport[] = [];
  let budget: unknown;
  return {
    async enqueue(report, maxReports) {
      queue.push(structuredClone(report));
      const dropped = queue.slice(0, Math.max(0, queue.length - maxReports));
      queue = queue.slice(dropped.length);
      return dropped.map((r) => r.reportId);
    },
    async peek(limit) {
      return structuredClone(queue.slice(0, limit));
    },
    async remove(ids) {
      const gone = new Set(ids);
      queue = queue.filter((r) => !gone.has(r.reportId));
    },
    budget: {
      get: async function getBudget() {
        return budget === undefined ? undefined : structuredClone(budget as never);
      },
      set: async function setBudget(record) {
        budget = structuredClone(record);
      },
    },
  };
}
