import { deviceRoutes } from '@edgeloop/protocol';
import { LatencyHistogram, REPORT_SCHEMA_VERSION, type TelemetryReport } from '@edgeloop/telemetry';

interface Bucket {
  model: string;
  version: string;
  backend: string;
  inferences: number;
  errors: number;
  latency: LatencyHistogram;
}

export interface FlushResult {
  /** Model summaries sent (0 when there was nothing to send). */
  sent: number;
  /** Set when the report could not be delivered; its counts are kept for the next flush. */
  error?: string;
}

/**
 * Counts inferences and their latency per model version and backend, and posts them as one report
 * on flush. Only summaries leave the device: no inputs, no outputs, no device identity.
 */
export class TelemetryCollector {
  readonly #app: string;
  readonly #url: string;
  readonly #fetch: typeof fetch;
  #buckets = new Map<string, Bucket>();

  constructor(options: { app: string; baseUrl: URL; fetch: typeof fetch }) {
    this.#app = options.app;
    this.#url = new URL(deviceRoutes.telemetry(options.app), options.baseUrl).href;
    this.#fetch = options.fetch;
  }

  /** Records one inference; `latencyMs` is null for a failed one. */
  record(model: string, version: string, backend: string, latencyMs: number | null): void {
    const key = `${model}\u0000${version}\u0000${backend}`;
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { model, version, backend, inferences: 0, errors: 0, latency: new LatencyHistogram() };
      this.#buckets.set(key, bucket);
    }
    if (latencyMs === null) bucket.errors += 1;
    else {
      bucket.inferences += 1;
      bucket.latency.record(latencyMs);
    }
  }

  /** Inferences recorded and not yet delivered, per model. */
  pending(): Array<{ model: string; version: string; backend: string; inferences: number; errors: number }> {
    return [...this.#buckets.values()].map(({ latency: _latency, ...rest }) => rest);
  }

  /** Posts everything recorded since the last successful flush. Never throws. */
  async flush(): Promise<FlushResult> {
    const buckets = this.#buckets;
    if (buckets.size === 0) return { sent: 0 };
    this.#buckets = new Map();
    const report: TelemetryReport = {
      schema: REPORT_SCHEMA_VERSION,
      reportId: crypto.randomUUID(),
      app: this.#app,
      sentAt: new Date().toISOString(),
      models: [...buckets.values()].map((bucket) => ({
        model: bucket.model,
        version: bucket.version,
        backend: bucket.backend,
        inferences: bucket.inferences,
        errors: bucket.errors,
        latencyMs: bucket.latency.toJSON(),
      })),
    };
    try {
      const response = await this.#fetch(this.#url, {
        method: 'POST',
        body: JSON.stringify(report),
        headers: { 'Content-Type': 'application/json' },
        keepalive: true,
      });
      if (!response.ok) throw new Error(`the server answered ${response.status}`);
      return { sent: report.models.length };
    } catch (error) {
      this.#restore(buckets);
      return { sent: 0, error: `telemetry not delivered, kept for the next flush: ${(error as Error).message}` };
    }
  }

  #restore(buckets: Map<string, Bucket>): void {
    for (const [key, old] of buckets) {
      const current = this.#buckets.get(key);
      if (!current) {
        this.#buckets.set(key, old);
        continue;
      }
      current.inferences += old.inferences;
      current.errors += old.errors;
      current.latency.merge(old.latency);
    }
  }
}
