import { Hono } from 'hono';
import { cors } from 'hono/cors';
import type { BlobStore } from './blobs/blob-store.js';
import type { Database } from './db/database.js';
import { errorHandler, notFoundHandler } from './http/error-handler.js';
import { ManifestCache } from './manifest/manifest-cache.js';
import { Registry } from './registry/registry.js';
import { adminRoutes } from './routes/admin.js';
import { deviceRoutes } from './routes/device.js';
import { TelemetryStore } from './telemetry/telemetry-store.js';

export interface AppOptions {
  db: Database;
  blobs: BlobStore;
  /** Largest model upload accepted, in bytes. Default 512 MiB. */
  maxUploadBytes?: number;
  /** Origins allowed to call the device API from a browser. Default `*` (it needs no credentials). */
  corsOrigins?: string | string[];
  log?: (message: string, error?: unknown) => void;
}

export interface EdgeloopApp {
  /** The Hono app: serve it with any Hono adapter, or call `app.request()` in tests. */
  app: Hono;
  registry: Registry;
  telemetry: TelemetryStore;
  manifests: ManifestCache;
}

/**
 * Builds the update server's HTTP app over a database and a blob store. Platform-neutral apart
 * from what the blob store needs: `startServer` wires the Node defaults.
 */
export function createApp(options: AppOptions): EdgeloopApp {
  const log = options.log ?? ((message: string, error?: unknown) => console.error(message, error ?? ''));
  let manifests: ManifestCache | undefined;
  const registry = new Registry({
    db: options.db,
    blobs: options.blobs,
    maxUploadBytes: options.maxUploadBytes ?? 512 * 1024 * 1024,
    onChange: (changedApp) => manifests?.invalidate(changedApp),
  });
  manifests = new ManifestCache(registry);
  const telemetry = new TelemetryStore(options.db);

  const app = new Hono();
  app.onError(errorHandler(log));
  app.notFound(notFoundHandler);
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.use(
    '/v1/apps/*',
    cors({ origin: options.corsOrigins ?? '*', allowHeaders: ['Content-Type', 'If-None-Match'], exposeHeaders: ['ETag'] }),
  );
  app.use(
    '/v1/artifacts/*',
    cors({
      origin: options.corsOrigins ?? '*',
      allowHeaders: ['Range', 'If-Range', 'If-None-Match'],
      exposeHeaders: ['ETag', 'Content-Length', 'Content-Range', 'Accept-Ranges'],
    }),
  );
  app.route('/v1', deviceRoutes({ manifests, blobs: options.blobs, telemetry }));
  app.route('/v1/admin', adminRoutes({ registry, telemetry }));
  return { app, registry, telemetry, manifests };
}
