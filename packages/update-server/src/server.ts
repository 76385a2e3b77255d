import { serve, type ServerType } from '@hono/node-server';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createApp, type EdgeloopApp, type TelemetryOptions } from './app.js';
import { openBlobStore, type BlobStoreConfig } from './blobs/open-blob-store.js';
import { sweepStaging } from './blobs/fs-staging.js';
import { bootstrapToken } from './auth/bootstrap.js';
import { gracefulClose } from './http/graceful-close.js';
import { seedIfEmpty } from './seed.js';
import { ReportFloor } from './telemetry/report-floor.js';
import { WINDOW_MS } from './telemetry/window-store.js';
import { windowTiming } from './telemetry/window-timing.js';
import { loadAppSigningKeys, loadSigningKey } from './manifest/signing-key.js';
import { shareLocalArtifacts } from './registry/share-local-artifacts.js';

export interface ServerOptions {
  /** Where the embedded database and artifacts live. Created when missing. */
  dataDir: string;
  /** Default 127.0.0.1: the admin API has no authentication yet, so it is not exposed by default. */
  host?: string;
  /** Default 8787; 0 picks a free port. */
  port?: number;
  /** Seed Silero VAD v5 into an empty data directory. Default true. */
  seed?: boolean;
  maxUploadBytes?: number;
  corsOrigins?: string | string[];
  log?: (message: string) => void;
  /** PKCS#8 PEM of the Ed25519 manifest signing key; default: `<dataDir>/keys/`, created on first start. */
  signingKeyPem?: string;
  /** Lifetime of a signed manifest; default 24 h. */
  manifestTtlMs?: number;
  /**
   * Telemetry: ingest limits, the signed config's parameters (`config`), and the floor (`minReports`,
   * default 20; below it only with `demo: true` on a loopback host).
   */
  telemetry?: TelemetryOptions;
  /** A PostgreSQL URL: shared state for several instances. Default: PGlite in `<dataDir>/db`. */
  databaseUrl?: string;
  /**
   * Where artifact bytes live. Default: `postgres` with `databaseUrl` (every instance serves every
   * file, hot ones from a cache in `<dataDir>/artifacts`), else `fs` (`<dataDir>/artifacts`).
   */
  blobStore?: BlobStoreConfig;
  /** Origins allowed to call the admin API from a browser. Default: none. */
  adminCorsOrigins?: string | string[];
  /** Create an admin token for this app at start and return it as `adminToken` (tests, demos). */
  issueAdminTokenFor?: string;
  /** How often due rollout steps are advanced. Default 15 s. */
  rolloutTickMs?: number;
  /**
   * The server clock, ms since the epoch (manifests, admission, arrival hours, releases, the gate).
   * Default `Date.now`; tests move one forward to close a telemetry window without waiting an hour.
   */
  now?: () => number;
  /**
   * How long `close()` lets requests in flight (downloads, uploads) finish before cutting them.
   * Default 25 s: under Kubernetes' default 30 s grace period, with time left to close the database.
   */
  drainTimeoutMs?: number;
}

export interface RunningServer extends EdgeloopApp {
  /** The base64 Ed25519 public key that signs this server's manifests: what clients pin. */
  publicKey: string;
  /** Base URL ending in `/`, e.g. `http://127.0.0.1:8787/`. */
  url: string;
  /** Set when `issueAdminTokenFor` was given: an admin token for that app. */
  adminToken?: string;
  /**
   * Stops accepting connections, lets requests in flight finish (at most `drainTimeoutMs`), then
   * stops the background work and closes the database. Safe to call more than once.
   */
  close(): Promise<void>;
}

/** Opens the data directory and serves the update server on Node until `close()`. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? ((message: string) => console.log(message));
  // Settings that cannot work (e.g. a demo floor on a public host) fail before anything is opened.
  new ReportFloor({ ...options.telemetry, host: options.host ?? '127.0.0.1' });
  const timing = windowTiming({ ...options.telemetry, host: options.host ?? '127.0.0.1' });
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // Only the driver in use is loaded: PGlite's JS and WASM are not needed next to PostgreSQL.
  const db = options.databaseUrl
    ? await (await import('./db/postgres.js')).openPostgres(options.databaseUrl, { log })
    : await (await import('./db/pglite.js')).openPglite(join(dataDir, 'db'), { log });
  // Partial uploads of a server that was killed, or of a disk that filled up, are never finished.
  const artifactsDir = join(dataDir, 'artifacts');
  const swept = await sweepStaging(artifactsDir);
  if (swept > 0) log(`removed ${swept} partial upload${swept === 1 ? '' : 's'} left in ${join(artifactsDir, 'tmp')}`);
  const opened = await openBlobStore(options.blobStore ?? { kind: options.databaseUrl ? 'postgres' : 'fs' }, {
    dataDir,
    db,
    sharedDatabase: options.databaseUrl !== undefined,
    log: (message, error) => log(`${message} ${error instanceof Error ? error.message : String(error ?? '')}`),
  }).catch(async (error: unknown) => {
    await db.close();
    throw error;
  });
  const blobs = opened.store;
  log(`artifacts: ${opened.description}`);
  if (options.databaseUrl && !opened.cached) {
    log(`artifacts are on this instance's disk only: other instances on this database answer 404 for them unless the directory is shared; use --blob-store postgres or s3://…`);
  }
  if (opened.cached) await shareLocalArtifacts(db, opened.cached, log);
  const { signer, created } = await loadSigningKey({
    dataDir,
    ...(options.signingKeyPem !== undefined && { privateKeyPem: options.signingKeyPem }),
  });
  log(`manifest signing key ${created ? 'created' : 'loaded'}: ${signer.key.keyId.slice(0, 16)}… public key (pin it in clients): ${signer.key.publicKey}`);
  const appSigners = await loadAppSigningKeys(dataDir);
  for (const [app, appSigner] of Object.entries(appSigners)) {
    log(`app "${app}" signs with its own key ${appSigner.key.keyId.slice(0, 16)}… public key (pin it in that app's clients): ${appSigner.key.publicKey}`);
  }
  const edgeloop = createApp({
    db,
    blobs,
    ...(options.maxUploadBytes !== undefined && { maxUploadBytes: options.maxUploadBytes }),
    ...(options.corsOrigins !== undefined && { corsOrigins: options.corsOrigins }),
    ...(options.adminCorsOrigins !== undefined && { adminCorsOrigins: options.adminCorsOrigins }),
    signer,
    appSigners,
    ...(options.manifestTtlMs !== undefined && { manifestTtlMs: options.manifestTtlMs }),
    host: options.host ?? '127.0.0.1',
    ...(options.telemetry !== undefined && { telemetry: options.telemetry }),
    ...(options.rolloutTickMs !== undefined && { jobs: { rolloutTickMs: options.rolloutTickMs } }),
    ...(options.now !== undefined && { now: options.now }),
    log: (message, error) => log(`${message} ${error instanceof Error ? (error.stack ?? error.message) : String(error ?? '')}`),
  });
  await edgeloop.ready;
  if (options.seed ?? true) await seedIfEmpty(edgeloop.registry, log);
  const adminToken = options.issueAdminTokenFor ? (await bootstrapToken(db, { app: options.issueAdminTokenFor, name: 'startServer' })).token : undefined;
  if (edgeloop.floor.banner) log(`*** ${edgeloop.floor.banner} ***`);
  if (timing.windowMs !== WINDOW_MS) log(`*** demo: telemetry is released per ${timing.windowMs / 1000} s window instead of per hour; the rollout gate still decides per hour ***`);
  edgeloop.jobs.start();

  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<ServerType>((resolveServer, reject) => {
    const s = serve({ fetch: edgeloop.app.fetch, hostname: host, port: options.port ?? 8787 }, () => resolveServer(s));
    s.once('error', reject);
  });
  const requests = gracefulClose(server);
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  const drainTimeoutMs = options.drainTimeoutMs ?? 25_000;
  let closing: Promise<void> | undefined;
  return {
    ...edgeloop,
    publicKey: signer.key.publicKey,
    url,
    ...(adminToken !== undefined && { adminToken }),
    close() {
      closing ??= (async () => {
        if (requests.inFlight > 0) log(`draining ${requests.inFlight} request(s) in flight, for at most ${Math.round(drainTimeoutMs / 1000)} s`);
        const { cut } = await requests.drain(drainTimeoutMs);
        if (cut > 0) log(`cut ${cut} request(s) still running after ${Math.round(drainTimeoutMs / 1000)} s`);
        await edgeloop.close(); // telemetry accepted before the close is written
        await opened.close();
        await db.close();
      })();
      return closing;
    },
  };
}
