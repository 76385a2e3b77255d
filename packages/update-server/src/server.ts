import { serve, type ServerType } from '@hono/node-server';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createApp, type EdgeloopApp } from './app.js';
import { fsBlobStore } from './blobs/fs-blob-store.js';
import { sweepStaging } from './blobs/fs-staging.js';
import { bootstrapToken } from './auth/bootstrap.js';
import { gracefulClose } from './http/graceful-close.js';
import { seedIfEmpty } from './seed.js';
import { loadSigningKey } from './manifest/signing-key.js';

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
  /** Reports a telemetry aggregate needs before its numbers are shown; default 20. */
  minReports?: number;
  /** A PostgreSQL URL: shared state for several instances. Default: PGlite in `<dataDir>/db`. */
  databaseUrl?: string;
  /** Origins allowed to call the admin API from a browser. Default: none. */
  adminCorsOrigins?: string | string[];
  /** Create an admin token for this app at start and return it as `adminToken` (tests, demos). */
  issueAdminTokenFor?: string;
  /** How often due rollout steps are advanced. Default 15 s. */
  rolloutTickMs?: number;
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
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  // Only the driver in use is loaded: PGlite's JS and WASM are not needed next to PostgreSQL.
  const db = options.databaseUrl
    ? await (await import('./db/postgres.js')).openPostgres(options.databaseUrl, { log })
    : await (await import('./db/pglite.js')).openPglite(join(dataDir, 'db'), { log });
  const artifactsDir = join(dataDir, 'artifacts');
  const blobs = fsBlobStore(artifactsDir);
  // Partial uploads of a server that was killed, or of a disk that filled up, are never finished.
  const swept = await sweepStaging(artifactsDir);
  if (swept > 0) log(`removed ${swept} partial upload${swept === 1 ? '' : 's'} left in ${join(artifactsDir, 'tmp')}`);
  const { signer, created } = await loadSigningKey({
    dataDir,
    ...(options.signingKeyPem !== undefined && { privateKeyPem: options.signingKeyPem }),
  });
  log(`manifest signing key ${created ? 'created' : 'loaded'}: ${signer.key.keyId.slice(0, 16)}… public key (pin it in clients): ${signer.key.publicKey}`);
  const edgeloop = createApp({
    db,
    blobs,
    ...(options.maxUploadBytes !== undefined && { maxUploadBytes: options.maxUploadBytes }),
    ...(options.corsOrigins !== undefined && { corsOrigins: options.corsOrigins }),
    ...(options.adminCorsOrigins !== undefined && { adminCorsOrigins: options.adminCorsOrigins }),
    signer,
    ...(options.manifestTtlMs !== undefined && { manifestTtlMs: options.manifestTtlMs }),
    ...(options.minReports !== undefined && { minReports: options.minReports }),
    log: (message, error) => log(`${message} ${error instanceof Error ? (error.stack ?? error.message) : String(error ?? '')}`),
  });
  await edgeloop.ready;
  if (options.seed ?? true) await seedIfEmpty(edgeloop.registry, log);
  const adminToken = options.issueAdminTokenFor ? (await bootstrapToken(db, { app: options.issueAdminTokenFor, name: 'startServer' })).token : undefined;
  const tick = setInterval(() => {
    edgeloop.rollouts.tick().catch((error: unknown) => log(`advancing rollouts failed: ${error instanceof Error ? error.message : String(error)}`));
  }, options.rolloutTickMs ?? 15_000);
  tick.unref();

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
        clearInterval(tick);
        if (requests.inFlight > 0) log(`draining ${requests.inFlight} request(s) in flight, for at most ${Math.round(drainTimeoutMs / 1000)} s`);
        const { cut } = await requests.drain(drainTimeoutMs);
        if (cut > 0) log(`cut ${cut} request(s) still running after ${Math.round(drainTimeoutMs / 1000)} s`);
        await edgeloop.close(); // telemetry accepted before the close is written
        await db.close();
      })();
      return closing;
    },
  };
}
