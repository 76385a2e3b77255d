import type { Context } from 'hono';
import { admitReport, parseReport, TelemetryError } from '@edgeloop/telemetry';
import { ServerError } from '../errors.js';
import { corsResponseHeaders } from '../http/cors.js';
import { errorResponse, toServerError } from '../http/error-handler.js';
import { nodeIncoming, readBodyText, requestHeader } from '../http/node-request.js';
import { nameParam } from '../http/params.js';
import type { AdmissionViews } from './admission-view.js';
import { IngestBatcher, IngestOverloaded, type BatchOptions } from './ingest-batcher.js';
import { TokenBucketLimiter, type RateLimitOptions } from './rate-limiter.js';
import { SourceLimiter, type SourceLimitOptions } from './source-limiter.js';
import type { IngestItem, IngestResult, WindowStore } from './window-store.js';

/** Settings of the telemetry ingest's HTTP edge; every field has a default. */
export interface TelemetryIngestOptions {
  /** Largest request body, bytes, also for chunked bodies. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Most reports in one request (a JSON array); a single report is a plain object. Default 32. */
  maxReportsPerRequest?: number;
  /** Token bucket of requests per app and client address (each report costs one token); `false` turns it off. */
  rateLimit?: RateLimitOptions | false;
  /** Reports admitted per source address per app per hour (default 16); `false` turns it off (tests, benchmarks). */
  sourceLimit?: SourceLimitOptions | false;
  /** Requests being read, checked or written at once at most; beyond it 503. Default 1024. */
  maxInFlight?: number;
  /** Group commit settings. */
  batch?: BatchOptions;
  /**
   * The client address limits are keyed by. Default: the socket address the Hono Node adapter
   * binds (`c.env.incoming`); behind a proxy, pass one that reads the header your proxy sets.
   */
  clientAddress?: (c: Context) => string;
  now?: () => number;
  log?: (message: string, error?: unknown) => void;
}

export const DEFAULT_MAX_REPORT_BYTES = 64 * 1024;

/**
 * The device-facing telemetry ingest, `POST /v1/apps/:app/telemetry`: the HTTP edge (in-flight
 * bound, request rate limit, body limit, CORS), then admission of every report before anything is
 * written (`parseReport`, then `admitReport` against the app's signed configs and registry, answered
 * from memory), the per-source admission limit, and group commit into the arrival hour's windows.
 * Memory stays bounded under overload: at most `maxInFlight` bodies of at most `maxBodyBytes` are
 * held, and the batch queue is bounded too.
 */
export class TelemetryIngest {
  readonly maxBodyBytes: number;
  readonly batcher: IngestBatcher;
  readonly limiter: TokenBucketLimiter | null;
  readonly sources: SourceLimiter | null;
  readonly #o: Required<Omit<TelemetryIngestOptions, 'rateLimit' | 'sourceLimit' | 'batch'>>;
  readonly #views: AdmissionViews;
  #inFlight = 0;

  constructor(deps: { windows: WindowStore; views: AdmissionViews }, options: TelemetryIngestOptions = {}) {
    this.#views = deps.views;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_REPORT_BYTES;
    this.#o = {
      maxBodyBytes: this.maxBodyBytes,
      maxReportsPerRequest: options.maxReportsPerRequest ?? 32,
      maxInFlight: options.maxInFlight ?? 1024,
      clientAddress: options.clientAddress ?? nodeSocketAddress,
      now: options.now ?? Date.now,
      log: options.log ?? ((message, error) => console.error(message, error ?? '')),
    };
    const now = this.#o.now;
    this.limiter = options.rateLimit === false ? null : new TokenBucketLimiter(options.rateLimit, now);
    this.sources = options.sourceLimit === false ? null : new SourceLimiter(options.sourceLimit, now);
    this.batcher = new IngestBatcher((items) => deps.windows.write(items), options.batch);
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * The route handler. It is mounted ahead of the generic middleware and sets its own CORS headers,
   * on errors too (a browser could not read a 400 or a 429 otherwise); its preflight goes through
   * `hono/cors`. Any Content-Type is read as JSON, so a browser may send `text/plain` and skip the
   * preflight. `appExists` answers 404 for an unknown app (from memory when warm).
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
    const arrivedAt = this.#o.now();
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
    const at = (i: number) => (batch ? `report ${i}: ` : '');
    const reports = values.map((value, i) => checked(() => parseReport(value), at(i)));
    reports.forEach((report, i) => {
      if (report.app !== app) throw new ServerError('bad_request', `${at(i)}app: report is for app "${report.app}" but was posted to app "${app}"`);
    });
    if (reports.length > 1 && this.limiter) {
      // The first report was paid for on arrival; a batch pays for the rest.
      const more = this.limiter.take(this.#rateKey(c), reports.length - 1);
      if (!more.ok) return refuse(c, headers, 429, 'rate_limited', `too many telemetry reports from this client; retry in ${more.retryAfterS} s`, more.retryAfterS);
    }
    await appExists(app);
    const view = await this.#views.get(app);
    let ignoredSummaries = 0;
    // Every report is admitted before anything is written: one refusal refuses the request.
    const items: IngestItem[] = reports.map((report, i) => {
      const context = view.context(report.config, arrivedAt);
      const admission = checked(() => admitReport(report, context), at(i));
      ignoredSummaries += admission.ignoredSummaries;
      return {
        report,
        config: context.config!,
        profileCells: report.models.map((m) => (m.summary === undefined ? undefined : view.summaryCells(m.model, m.version, m.summary.profile))),
        arrivedAt,
      };
    });
    const admitted = this.sources?.take(app, this.#o.clientAddress(c), items.length) ?? { ok: true };
    if (!admitted.ok) {
      const limit = this.sources!.perHour;
      return refuse(c, headers, 429, 'rate_limited', `this source sent more than ${limit} telemetry reports for app "${app}" in the last hour; retry in ${admitted.retryAfterS} s`, admitted.retryAfterS);
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
    const extra = ignoredSummaries > 0 ? { ignoredSummaries } : {};
    return batch ? c.json({ results, ...extra }, 202, headers) : c.json({ ...results[0]!, ...extra }, 202, headers);
  }

  #rateKey(c: Context): string {
    return `${c.req.param('app')}\u0000${this.#o.clientAddress(c)}`;
  }
}

/** Runs a telemetry check; its refusal becomes a 400 naming the report (in a batch) and the field. */
function checked<T>(check: () => T, prefix: string): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof TelemetryError)) throw error;
    throw new ServerError('bad_request', `${prefix}${error.message}`, error.details);
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
