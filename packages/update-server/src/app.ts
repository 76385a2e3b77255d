import { Hono } from 'hono';
import { DEFAULT_MIN_REPORTS } from '@edgeloop/telemetry';
import { cors } from 'hono/cors';
import { TokenStore } from './auth/tokens.js';
import type { BlobStore } from './blobs/blob-store.js';
import { RESYNC, type Database } from './db/database.js';
import { adminBodyLimit } from './http/admin-body-limit.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import { serverRequestId } from './http/request-id.js';
import { keysRoute } from './manifest/keys-route.js';
import { manifestHandler } from './manifest/manifest-route.js';
import { ManifestCache } from './manifest/manifest-cache.js';
import { ephemeralSigner, type ManifestSigner } from './manifest/signing-key.js';
import { CHANGES_CHANNEL } from './registry/changes.js';
import { Registry } from './registry/registry.js';
import { RolloutService } from './rollouts/rollout-service.js';
import { adminApi } from './routes/admin/index.js';
import { deviceRoutes } from './routes/device.js';
import { TelemetryIngest, type TelemetryIngestOptions } from './telemetry/ingest.js';
import { ProfileStore } from './telemetry/profile-store.js';
import { TelemetryStore } from './telemetry/telemetry-store.js';

export interface AppOptions {
  db: Database;
  blobs: BlobStore;
  /** Largest model upload accepted, in bytes. Default 512 MiB. */
  maxUploadBytes?: number;
  /** Origins allowed to call the device API from a browser. Default `*` (it needs no credentials). */
  corsOrigins?: string | string[];
  /** Origins allowed to call the admin API from a browser (e.g. a dashboard). Default: none. */
  adminCorsOrigins?: string | string[];
  /** Unreferenced artifacts younger than this survive GC (uploads in flight). Default 1 hour. */
  gcGraceMs?: number;
  /** Signs manifests. Default: a fresh key per app instance (tests); `startServer` loads a persistent one. */
  signer?: ManifestSigner;
  /** Lifetime of a signed manifest; default 24 h. */
  manifestTtlMs?: number;
  /** Clock for manifest expiry, in ms since the epoch (tests). */
  now?: () => number;
  log?: (message: string, error?: unknown) => void;
  /** Telemetry ingest: body size, accepted `sentAt` window, rate limit, overload bounds, batching. */
  telemetry?: TelemetryIngestOptions;
  /**
   * Reports a telemetry aggregate needs before any of its numbers is shown, in every admin view.
   * Default 20; lower it only for tests and demos with a handful of devices.
   */
  minReports?: number;
}

export interface EdgeloopApp {
  /** The Hono app: serve it with any Hono adapter, or call `app.request()` in tests. */
  app: Hono;
  registry: Registry;
  rollouts: RolloutService;
  tokens: TokenStore;
  telemetry: TelemetryStore;
  /** Reference profiles per model version (published to devices, used by drift analysis). */
  profiles: ProfileStore;
  /** Telemetry ingest (rate limiter, batcher); `close()` drains it. */
  ingest: TelemetryIngest;
  manifests: ManifestCache;
  /** Resolves once this instance listens for changes made by other instances. */
  ready: Promise<void>;
  /** Stops listening for changes (the database stays open: it belongs to the caller). */
  close(): Promise<void>;
}

/**
 * Builds the update server's HTTP app over a database and a blob store. Platform-neutral apart
 * from what the blob store needs: `startServer` wires the Node defaults.
 */
export function createApp(options: AppOptions): EdgeloopApp {
  const log = options.log ?? ((message: string, error?: unknown) => console.error(message, error ?? ''));
  let manifests: ManifestCache | undefined;
  // Rebuild at once rather than on the next poll, so polls are answered from memory.
  const changed = (app: string) => {
    manifests?.invalidate(app);
    manifests?.get(app).catch((error: unknown) => log(`rebuilding the manifest of ${app} failed`, error));
  };
  const registry = new Registry({ db: options.db, blobs: options.blobs, maxUploadBytes: options.maxUploadBytes ?? 512 * 1024 * 1024, onChange: changed });
  const signer = options.signer ?? ephemeralSigner();
  manifests = new ManifestCache(registry, {
    signer,
    ...(options.manifestTtlMs !== undefined && { ttlMs: options.manifestTtlMs }),
    ...(options.now !== undefined && { now: options.now }),
  });
  const rollouts = new RolloutService({ db: options.db, onChange: changed });
  const tokens = new TokenStore(options.db);
  const telemetry = new TelemetryStore(options.db);
  const profiles = new ProfileStore(options.db, { ...(options.now !== undefined && { now: options.now }) });
  const ingest = new TelemetryIngest({ store: telemetry, profiles }, { log, ...(options.now !== undefined && { now: options.now }), ...options.telemetry });
  // Changes committed by any instance (this one too) arrive here after commit: LISTEN/NOTIFY.
  const listening = options.db.listen(CHANGES_CHANNEL, (app) => {
    // After a lost connection any app may have changed: rebuild every manifest on its next poll.
    if (app === RESYNC) manifests?.invalidateAll();
    else changed(app);
  });

  const app = new Hono();
  app.onError(errorHandler(log));
  app.notFound(notFoundHandler);
  app.get('/healthz', (c) => c.json({ ok: true }));
  // Registered before the CORS middleware: the poll path sets its own CORS headers (see manifest-route.ts).
  app.get('/v1/apps/:app/manifest', manifestHandler(manifests, options.corsOrigins ?? '*'));
  // Likewise telemetry ingest, the busiest write path (see telemetry/ingest.ts).
  app.post(
    '/v1/apps/:app/telemetry',
    ingest.handler(async (name) => {
      await manifests.get(name); // 404 for an unknown app, from memory when warm
    }, options.corsOrigins ?? '*'),
  );
  // CORS for the device routes under /v1/apps. The manifest GET sets its own headers (it is the
  // hottest path); here it only needs its preflight, so the middleware is not matched by polls.
  const appsCors = cors({ origin: options.corsOrigins ?? '*', allowHeaders: ['Content-Type', 'If-None-Match'], exposeHeaders: ['ETag'] });
  app.options('/v1/apps/:app/manifest', appsCors);
  app.options('/v1/apps/:app/telemetry', appsCors);
  app.use('/v1/apps/:app/models/*', appsCors);
  app.use(
    '/v1/artifacts/*',
    cors({
      origin: options.corsOrigins ?? '*',
      allowHeaders: ['Range', 'If-Range', 'If-None-Match'],
      exposeHeaders: ['ETag', 'Content-Length', 'Content-Range', 'Accept-Ranges'],
    }),
  );
  if (options.adminCorsOrigins !== undefined) {
    app.use(
      '/v1/admin/*',
      cors({
        origin: options.adminCorsOrigins,
        allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
        allowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
        exposeHeaders: ['X-Request-Id', 'Idempotent-Replayed'],
      }),
    );
  }
  app.use('/v1/admin/*', serverRequestId());
  app.use('/v1/admin/*', adminBodyLimit());
  app.use('/v1/keys', cors({ origin: options.corsOrigins ?? '*' }));
  app.route('/v1', keysRoute(signer));
  app.route('/v1', deviceRoutes({ blobs: options.blobs, profiles }));
  app.route(
    '/v1/admin',
    adminApi({ db: options.db, blobs: options.blobs, registry, rollouts, tokens, telemetry, profiles, gcGraceMs: options.gcGraceMs ?? 60 * 60 * 1000, minReports: options.minReports ?? DEFAULT_MIN_REPORTS }),
  );
  const ready = listening.then(() => undefined);
  return {
    app,
    registry,
    rollouts,
    tokens,
    telemetry,
    profiles,
    ingest,
    manifests,
    ready,
    async close() {
      manifests.close();
      await ingest.drain();
      await (await listening)();
    },
  };
}
