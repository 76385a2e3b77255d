import type { Context } from 'hono';
import { LatencyHistogram, parseReport, TelemetryError, type ReferenceProfile, type TelemetryReport } from '@edgeloop/telemetry';
import { ServerError } from '../errors.js';
import { corsResponseHeaders } from '../http/cors.js';
import { errorResponse, toServerError } from '../http/error-handler.js';
import { nodeIncoming, readBodyText, requestHeader } from '../http/node-request.js';
import { nameParam } from '../http/params.js';
import { IngestBatcher, IngestOverloaded, type BatchOptions } from './ingest-batcher.js';
import type { ProfileStore } from './profile-store.js';
import { TokenBucketLimiter, type RateLimitOptions } from './rate-limiter.js';
import type { IngestItem, IngestResult, TelemetryStore } from './telemetry-store.js';

/** Settings of telemetry ingest (`AppOptions.telemetry`); every field has a default. */
export interface TelemetryIngestOptions {
  /** Largest request body, bytes, also for chunked bodies. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Most reports in one request (a JSON array); a single report is a plain object. Default 32. */
  maxReportsPerRequest?: number;
  /** `sentAt` may be at most this old, ms. Default 24 h: report ids are remembered that long. */
  maxAgeMs?: number;
  /** `sentAt` may be at most this far in the future (clock skew), ms. Default 5 min. */
  maxSkewMs?: number;
  /** Token bucket per app and client address (each report costs one token); `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Requests being read, checked or written at once at most; beyond it 503. Default 1024. */
  maxInFlight?: number;
  /** Group commit settings. */
  batch?: BatchOptions;
  /**
   * The client address rate limits are keyed by. Default: the socket address the Hono Node adapter
   * binds (`c.env.incoming`); behind a proxy, pass one that reads the header your proxy sets.
   */
  clientAddress?: (c: Context) => string;
  now?: () => number;
  log?: (message: string, error?: unknown) => void;
}

export const DEFAULT_MAX_REPORT_BYTES = 64 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;
const LATENCY_ALPHA = new LatencyHistogram().alpha;

/**
 * The device-facing telemetry ingest: admission (in-flight bound, rate limit, body limit), checks
 * (schema, app, `sentAt` window, summaries against the version's reference profile), then group
 * commit through an {@link IngestBatcher}. Memory stays bounded under overload: at most
 * `maxInFlight` bodies of at most `maxBodyBytes` are held, and the batch queue is bounded too.
 */
export class TelemetryIngest {
  readonly maxBodyBytes: number;
  readonly batcher: IngestBatcher;
  readonly limiter: TokenBucketLimiter | null;
  readonly #o: Required<Omit<TelemetryIngestOptions, 'rateLimit' | 'batch'>>;
  readonly #store: TelemetryStore;
  readonly #profiles: ProfileStore;
  #inFlight = 0;
  #lastPrune = 0;

  constructor(deps: { store: TelemetryStore; profiles: ProfileStore }, options: TelemetryIngestOptions = {}) {
    this.#store = deps.store;
    this.#profiles = deps.profiles;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_REPORT_BYTES;
    this.#o = {
      maxBodyBytes: this.maxBodyBytes,
      maxReportsPerRequest: options.maxReportsPerRequest ?? 32,
      maxAgeMs: options.maxAgeMs ?? DAY_MS,
      maxSkewMs: options.maxSkewMs ?? 5 * 60 * 1000,
      maxInFlight: options.maxInFlight ?? 1024,
      clientAddress: options.clientAddress ?? nodeSocketAddress,
      now: options.now ?? Date.now,
      log: options.log ?? ((message, error) => console.error(message, error ?? '')),
    };
    const now = this.#o.now;
    this.limiter = options.rateLimit === false ? null : new TokenBucketLimiter(options.rateLimit, now);
    this.batcher = new IngestBatcher((items) => this.#write(items), options.batch);
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * The route handler of `POST /v1/apps/:app/telemetry`: admission (in-flight bound, rate limit),
   * body limit, checks, group commit. It is mounted ahead of the generic middleware and sets its own
   * CORS headers, on errors too (a browser could not read a 400 or a 429 otherwise); its preflight
   * goes through `hono/cors`. `appExists` answers 404 for an unknown app (from memory when warm).
   */
  handler(appExists: (app: string) => Promise<void>, corsOrigins: string | readonly string[] = '*'): (c: Context) => Promise<Response> {
    const cors = corsResponseHeaders(corsOrigins);
    return async (c) => {
      const headers = cors({}, requestHeader(c, 'origin'));
      try {
        return await this.#admit(c, headers, appExists);
      } catch (error) {
        return errorResponse(c, toServerError(error, c, this.#o.log), headers);
      }
    };
  }

  /** Waits until every accepted report is written. */
  drain(): Promise<void> {
    return this.batcher.drain();
  }

  async #admit(c: Context, headers: Record<string, string>, appExists: (app: string) => Promise<void>): Promise<Response> {
    nameParam(c.req.param('app'), 'app');
    if (this.#inFlight >= this.#o.maxInFlight) {
      return refuse(c, headers, 503, 'overloaded', `the server is handling ${this.#o.maxInFlight} telemetry requests; retry later`, 1);
    }
    const decision = this.limiter?.take(this.#rateKey(c)) ?? { ok: true };
    if (!decision.ok) {
      return refuse(c, headers, 429, 'rate_limited', `too many telemetry requests from this client; retry in ${decision.retryAfterS} s`, decision.retryAfterS);
    }
    this.#inFlight += 1;
    try {
      return await this.#handle(c, headers, appExists);
    } finally {
      this.#inFlight -= 1;
    }
  }

  async #handle(c: Context, headers: Record<string, string>, appExists: (app: string) => Promise<void>): Promise<Response> {
    const app = c.req.param('app')!;
    const text = await readBodyText(c, this.maxBodyBytes, 'send fewer reports per request');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ServerError('bad_request', 'the telemetry report is not valid JSON');
    }
    const batch = Array.isArray(json);
    const values: unknown[] = Array.isArray(json) ? json : [json];
    if (values.length === 0 || values.length > this.#o.maxReportsPerRequest) {
      throw new ServerError('bad_request', `send 1 to ${this.#o.maxReportsPerRequest} reports per request, got ${values.length}`);
    }
    const reports = values.map((value, i) => this.#check(value, app, batch ? `${i}.` : ''));
    if (reports.length > 1 && this.limiter) {
      // The first report was paid for on admission; a batch pays for the rest.
      const decision = this.limiter.take(this.#rateKey(c), reports.length - 1);
      if (!decision.ok) {
        return refuse(c, headers, 429, 'rate_limited', `too many telemetry reports from this client; retry in ${decision.retryAfterS} s`, decision.retryAfterS);
      }
    }
    await appExists(app);
    const items: IngestItem[] = [];
    let ignoredSummaries = 0;
    for (const [i, report] of reports.entries()) {
      const { item, ignored } = await this.#withProfiles(report, batch ? `${i}.` : '');
      items.push(item);
      ignoredSummaries += ignored;
    }
    if (!this.batcher.hasRoomFor(items.length)) {
      return refuse(c, headers, 503, 'overloaded', 'the telemetry write queue is full; retry later', 1);
    }
    let results: IngestResult[];
    try {
      results = await Promise.all(items.map((item) => this.batcher.submit(item)));
    } catch (error) {
      if (error instanceof IngestOverloaded) return refuse(c, headers, 503, 'overloaded', `${error.message}; retry later`, 1);
      throw error;
    }
    this.#maybePrune();
    const extra = ignoredSummaries > 0 ? { ignoredSummaries } : {};
    return batch ? c.json({ results, ...extra }, 202, headers) : c.json({ ...results[0]!, ...extra }, 202, headers);
  }

  #check(value: unknown, app: string, prefix: string): TelemetryReport {
    let report: TelemetryReport;
    try {
      report = parseReport(value);
    } catch (error) {
      const cause = TelemetryError.fromUnknown(error);
      throw new ServerError('bad_request', prefix ? `report ${prefix.slice(0, -1)}: ${cause.message}` : cause.message, cause.details);
    }
    if (report.app !== app) {
      throw new ServerError('bad_request', `${prefix}app: report is for app "${report.app}" but was posted to app "${app}"`);
    }
    // Aggregates merge histograms bucket by bucket: every report must use the server's accuracy.
    for (const [i, model] of report.models.entries()) {
      for (const field of ['latencyMs', 'loadMs', 'firstInferenceMs'] as const) {
        const alpha = (model as Partial<Record<typeof field, { alpha: number }>>)[field]?.alpha;
        if (alpha !== undefined && alpha !== LATENCY_ALPHA) {
          throw new ServerError('bad_request', `${prefix}models.${i}.${field}.alpha: must be ${LATENCY_ALPHA} (the default LatencyHistogram accuracy), got ${alpha}`);
        }
      }
    }
    const age = this.#o.now() - Date.parse(report.sentAt);
    if (age > this.#o.maxAgeMs) {
      throw new ServerError('bad_request', `${prefix}sentAt: ${report.sentAt} is more than ${hours(this.#o.maxAgeMs)} old; reports that old are not accepted`);
    }
    if (-age > this.#o.maxSkewMs) {
      throw new ServerError('bad_request', `${prefix}sentAt: ${report.sentAt} is more than ${Math.round(this.#o.maxSkewMs / 60_000)} min in the future; check the device clock`);
    }
    return report;
  }

  /**
   * Looks up the reference profile of every model that carries summaries. Summaries cut on another
   * profile (an old one, or none uploaded) cannot be compared with anything and are dropped, the
   * rest of the report is kept; summaries that claim the current profile but do not fit it are a 400.
   */
  async #withProfiles(report: TelemetryReport, prefix: string): Promise<{ item: IngestItem; ignored: number }> {
    if (!report.models.some((m) => 'summaries' in m && m.summaries !== undefined)) return { item: { report }, ignored: 0 };
    let ignored = 0;
    const profiles: Array<ReferenceProfile | undefined> = [];
    const models = await Promise.all(
      report.models.map(async (summary, i) => {
        if (!('summaries' in summary) || summary.summaries === undefined) return summary;
        const stored = await this.#profiles.get({ app: report.app, model: summary.model, version: summary.version });
        if (!stored || stored.profile.id !== summary.summaries.profile) {
          ignored += 1;
          const { summaries: _dropped, ...rest } = summary;
          return rest;
        }
        const expected = stored.profile.cellCounts();
        const got = summary.summaries.cells.map((c) => c.length);
        if (got.length !== expected.length || got.some((n, e) => n !== expected[e])) {
          throw new ServerError(
            'bad_request',
            `${prefix}models.${i}.summaries: cells [${got.join(', ')}] do not fit profile "${stored.profile.id}" ([${expected.join(', ')}])`,
          );
        }
        profiles[i] = stored.profile;
        return summary;
      }),
    );
    return { item: { report: { ...report, models } as TelemetryReport, profiles }, ignored };
  }

  async #write(items: readonly IngestItem[]): Promise<IngestResult[]> {
    return this.#store.ingestBatch(items, new Date(this.#o.now()));
  }

  /** Report ids older than the accepted window are useless for replay protection: forget them hourly. */
  #maybePrune(): void {
    const now = this.#o.now();
    if (now - this.#lastPrune < 60 * 60 * 1000) return;
    this.#lastPrune = now;
    const before = new Date(now - this.#o.maxAgeMs - 60 * 60 * 1000);
    this.#store.pruneReportIds(before).catch((error: unknown) => this.#o.log('pruning old telemetry report ids failed', error));
  }

  #rateKey(c: Context): string {
    return `${c.req.param('app')}\u0000${this.#o.clientAddress(c)}`;
  }
}

/** 429/503 with Retry-After, in the server's error body shape (the central handler cannot set headers). */
function refuse(
  c: Context,
  headers: Record<string, string>,
  status: 429 | 503,
  code: 'rate_limited' | 'overloaded',
  message: string,
  retryAfterS: number,
): Response {
  return c.json({ error: { code, message } }, status, { ...headers, 'Retry-After': String(retryAfterS) });
}

/** The Hono Node adapter binds the incoming message as `c.env.incoming`; other platforms pass `clientAddress`. */
function nodeSocketAddress(c: Context): string {
  return nodeIncoming(c)?.socket?.remoteAddress ?? 'unknown';
}

function hours(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 1000)} s`;
}
