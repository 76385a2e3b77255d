import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { TokenStore } from './auth/tokens.js';
import type { BlobStore } from './blobs/blob-store.js';
import { RESYNC, type Database } from './db/database.js';
import { adminBodyLimit } from './http/admin-body-limit.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import { Jobs, type Timers } from './jobs/jobs.js';
import { serverRequestId } from './http/request-id.js';
import { keysRoute } from './manifest/keys-route.js';
import { manifestHandler } from './manifest/manifest-route.js';
import { ManifestCache } from './manifest/manifest-cache.js';
import { ephemeralSigner, type ManifestSigner } from './manifest/signing-key.js';
import { ProfileStore } from './profiles/profile-store.js';
import { CHANGES_CHANNEL } from './registry/changes.js';
import { Registry } from './registry/registry.js';
import { evaluateGates } from './rollouts/gate/gate-job.js';
import { sharedOutputFeatures } from './rollouts/gate/shared-profile.js';
import { RolloutService } from './rollouts/rollout-service.js';
import { adminApi } from './routes/admin/index.js';
import { deviceRoutes } from './routes/device.js';
import { AdmissionViews } from './telemetry/admission-view.js';
import { pinnedLatency, settingsFromOptions, type TelemetryConfigOptions } from './telemetry/config/config-options.js';
import { TelemetryConfigStore } from './telemetry/config/config-store.js';
import { TelemetryIngest, type TelemetryIngestOptions } from './telemetry/ingest.js';
import { ReportFloor } from './telemetry/report-floor.js';
import { telemetryJobs } from './telemetry/telemetry-jobs.js';
import { TelemetryViews } from './telemetry/views/views.js';
import { WindowStore } from './telemetry/window-store.js';
import { windowTiming } from './telemetry/window-timing.js';

/** Telemetry settings: the ingest's HTTP edge, the signed config's parameters, and the floor. */
export interface TelemetryOptions extends TelemetryIngestOptions {
  /** Parameters of the signed telemetry config (period, ε, counters); the rest is the default. */
  config?: TelemetryConfigOptions;
  /** Reports a release and every view entry need. Default 20; lower only with `demo` on a loopback `host`. */
  minReports?: number;
  /** A local demo: allows `minReports` below 20 on a loopback host; every telemetry answer then says `demo: true`. */
  demo?: boolean;
  /**
   * Length of the windows reports are filed and released in. Default (and always outside a demo)
   * one hour; with `demo` on a loopback host it may be shorter (≥ 1 min, dividing the hour), so a
   * local demo shows its first release within a minute or two.
   */
  windowMs?: number;
}

/** The name of the rollout gate's job (`edgeloop.jobs.run(ROLLOUT_GATE_JOB)` in tests and simulations). */
export const ROLLOUT_GATE_JOB = 'rollouts.gate';

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
  /** Apps whose manifests are signed with a key of their own (`startServer` loads `<data-dir>/keys/apps/*`). */
  appSigners?: Record<string, ManifestSigner>;
  /** Lifetime of a signed manifest; default 24 h. */
  manifestTtlMs?: number;
  /** The server clock, ms since the epoch: manifests, admission, arrival hours, releases, jobs (tests pass a fake one). */
  now?: () => number;
  log?: (message: string, error?: unknown) => void;
  /** The host the app is served on (`startServer` passes its own): a demo floor needs a loopback one. */
  host?: string;
  telemetry?: TelemetryOptions;
  /** Background jobs: how often due rollout steps are advanced (default 15 s), and the timers (tests). */
  jobs?: { rolloutTickMs?: number; timers?: Timers };
}

export interface EdgeloopApp {
  /** The Hono app: serve it with any Hono adapter, or call `app.request()` in tests. */
  app: Hono;
  registry: Registry;
  rollouts: RolloutService;
  tokens: TokenStore;
  /** Reference profiles (signed into the manifest by hash). */
  profiles: ProfileStore;
  /** The signed telemetry configs of each app. */
  configs: TelemetryConfigStore;
  /** Telemetry ingest (limits, admission, batcher); `close()` drains it. */
  ingest: TelemetryIngest;
  /** Telemetry views, computed from releases only. */
  views: TelemetryViews;
  /** The minimum-reports floor. */
  floor: ReportFloor;
  /** Background jobs (rollout steps, telemetry releases, pruning, latency ranges): `start()` them when serving; `startServer` does. */
  jobs: Jobs;
  manifests: ManifestCache;
  /** Resolves once this instance listens for changes made by other instances and has reconciled its telemetry config. */
  ready: Promise<void>;
  /** Stops the jobs, drains ingest, stops listening for changes (the database stays open: it belongs to the caller). */
  close(): Promise<void>;
}

/**
 * Builds the update server's HTTP app over a database and a blob store. Platform-neutral apart
 * from what the blob store needs: `startServer` wires the Node defaults.
 */
export function createApp(options: AppOptions): EdgeloopApp {
  const log = options.log ?? ((message: string, error?: unknown) => console.error(message, error ?? ''));
  const now = options.now ?? Date.now;
  const { config: configOptions, minReports, demo, windowMs, ...ingestOptions } = options.telemetry ?? {};
  const floor = new ReportFloor({
    ...(minReports !== undefined && { minReports }),
    ...(demo !== undefined && { demo }),
    ...(options.host !== undefined && { host: options.host }),
  });
  const timing = windowTiming({ ...(windowMs !== undefined && { windowMs }), ...(demo !== undefined && { demo }), ...(options.host !== undefined && { host: options.host }) });
  let manifests: ManifestCache | undefined;
  let admission: AdmissionViews | undefined;
  // Rebuild at once rather than on the next poll, so polls are answered from memory.
  const changed = (app: string) => {
    admission?.invalidate(app);
    manifests?.invalidate(app);
    manifests?.get(app).catch((error: unknown) => log(`rebuilding the manifest of ${app} failed`, error));
  };
  const registry = new Registry({ db: options.db, blobs: options.blobs, maxUploadBytes: options.maxUploadBytes ?? 512 * 1024 * 1024, onChange: changed });
  const configs = new TelemetryConfigStore({ db: options.db, settings: settingsFromOptions(configOptions), pinned: pinnedLatency(configOptions), now, onChange: changed });
  const profiles = new ProfileStore({ db: options.db, blobs: options.blobs, onChange: changed });
  const signer = options.signer ?? ephemeralSigner();
  manifests = new ManifestCache(registry, {
    signer,
    ...(options.appSigners !== undefined && { appSigners: options.appSigners }),
    ...(options.manifestTtlMs !== undefined && { ttlMs: options.manifestTtlMs }),
    now,
    telemetryConfig: async (app) => (await configs.ensure(app)).config,
  });
  const rollouts = new RolloutService({
    db: options.db,
    onChange: changed,
    now,
    floor: () => floor.minReports,
    outputFeatures: sharedOutputFeatures,
  });
  const tokens = new TokenStore(options.db);
  admission = new AdmissionViews({ db: options.db, configs });
  const windows = new WindowStore(options.db, { now, timing });
  const ingest = new TelemetryIngest({ windows, views: admission }, { log, now, ...ingestOptions });
  const views = new TelemetryViews({ db: options.db, minReports: floor.minReports });
  const jobs = new Jobs({ now, log, ...(options.jobs?.timers !== undefined && { timers: options.jobs.timers }) });
  jobs.add({ name: 'rollouts.advance', everyMs: options.jobs?.rolloutTickMs ?? 15_000, run: (at) => rollouts.tick(at) });
  for (const job of telemetryJobs({ db: options.db, configs, windows, floor, timing })) jobs.add(job);
  // The rollout gate looks after every closed telemetry window (releases are made within a minute of closing).
  jobs.add({ name: ROLLOUT_GATE_JOB, everyMs: 60_000, run: (at) => evaluateGates({ db: options.db, rollouts, floor: floor.minReports }, at) });
  // Changes committed by any instance (this one too) arrive here after commit: LISTEN/NOTIFY.
  const listening = options.db.listen(CHANGES_CHANNEL, (app) => {
    // After a lost connection any app may have changed: rebuild everything cached on next use.
    if (app === RESYNC) {
      manifests?.invalidateAll();
      admission?.invalidateAll();
    } else changed(app);
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
  app.use('/v1/apps/:app/keys', cors({ origin: options.corsOrigins ?? '*' }));
  app.route('/v1', keysRoute({ default: signer, forApp: (name) => manifests.signerFor(name) }));
  app.route('/v1', deviceRoutes({ blobs: options.blobs }));
  app.route(
    '/v1/admin',
    adminApi({ db: options.db, blobs: options.blobs, registry, rollouts, tokens, profiles, views, configs, floor, gcGraceMs: options.gcGraceMs ?? 60 * 60 * 1000, now }),
  );
  const ready = listening.then(async () => {
    await profiles.backfillBlobs();
    // Options changed since the last start (period, ε, counters): issue the new config for every app.
    for (const { name } of await registry.listApps()) await configs.reconcile(name);
  });
  return {
    app,
    registry,
    rollouts,
    tokens,
    profiles,
    configs,
    ingest,
    views,
    floor,
    jobs,
    manifests,
    ready,
    async close() {
      await jobs.stop();
      manifests.close();
      await ingest.drain();
      await (await listening)();
    },
  };
}
