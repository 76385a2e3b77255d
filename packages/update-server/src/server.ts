import { serve, type ServerType } from '@hono/node-server';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createApp, type EdgeloopApp } from './app.js';
import { fsBlobStore } from './blobs/fs-blob-store.js';
import { openPglite } from './db/pglite.js';
import { seedIfEmpty } from './seed.js';

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
}

export interface RunningServer extends EdgeloopApp {
  /** Base URL ending in `/`, e.g. `http://127.0.0.1:8787/`. */
  url: string;
  close(): Promise<void>;
}

/** Opens the data directory and serves the update server on Node until `close()`. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const log = options.log ?? ((message: string) => console.log(message));
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const db = await openPglite(join(dataDir, 'db'));
  const blobs = fsBlobStore(join(dataDir, 'artifacts'));
  const edgeloop = createApp({
    db,
    blobs,
    ...(options.maxUploadBytes !== undefined && { maxUploadBytes: options.maxUploadBytes }),
    ...(options.corsOrigins !== undefined && { corsOrigins: options.corsOrigins }),
    log: (message, error) => log(`${message} ${error instanceof Error ? (error.stack ?? error.message) : String(error ?? '')}`),
  });
  if (options.seed ?? true) await seedIfEmpty(edgeloop.registry, log);

  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<ServerType>((resolveServer, reject) => {
    const s = serve({ fetch: edgeloop.app.fetch, hostname: host, port: options.port ?? 8787 }, () => resolveServer(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}/`;
  return {
    ...edgeloop,
    url,
    async close() {
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        // Keep-alive sockets would hold close() open; nothing of ours is mid-write at this point.
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      await db.close();
    },
  };
}
