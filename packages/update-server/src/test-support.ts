import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type AppOptions, type EdgeloopApp } from './app.js';
import { fsBlobStore } from './blobs/fs-blob-store.js';
import { openPglite } from './db/pglite.js';
import type { Database } from './db/database.js';
import { bootstrapToken } from './auth/bootstrap.js';

const require = createRequire(import.meta.url);

/** Real model bytes from npm packages (see MACHINE-NOTES): Silero VAD v5 and v6. */
export const sileroV5 = new Uint8Array(readFileSync(require.resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx')));
export const sileroV6 = new Uint8Array(readFileSync(require.resolve('@ricky0123/vad-web/dist/silero_vad_v6.onnx')));

export interface TestServer extends EdgeloopApp {
  db: Database;
  /** An admin token for app `demo` (created directly in the database, like the bootstrap command). */
  adminToken: string;
  /** Headers carrying `token` (default the admin token). */
  auth(token?: string): Record<string, string>;
  artifactsDir: string;
  /** Every file under the artifacts directory, for "nothing was stored" assertions. */
  storedFiles(): Promise<string[]>;
  dispose(): Promise<void>;
}

/** An app over an in-memory PGlite and a temporary artifacts directory. */
export async function createTestServer(options: Pick<AppOptions, 'maxUploadBytes' | 'manifestTtlMs' | 'now' | 'telemetry' | 'host' | 'jobs'> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-server-'));
  const artifactsDir = join(dir, 'artifacts');
  const db = await openPglite();
  let edgeloop: EdgeloopApp;
  try {
    edgeloop = createApp({ db, blobs: fsBlobStore(artifactsDir), log: () => {}, ...options });
    await edgeloop.ready;
  } catch (error) {
    await db.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const { token: adminToken } = await bootstrapToken(db, { app: 'demo' });
  return {
    ...edgeloop,
    db,
    adminToken,
    auth: (token = adminToken) => ({ Authorization: `Bearer ${token}` }),
    artifactsDir,
    async storedFiles() {
      try {
        return (await readdir(artifactsDir, { recursive: true, withFileTypes: true }))
          .filter((entry) => entry.isFile())
          .map((entry) => join(entry.parentPath, entry.name))
          .sort();
      } catch {
        return [];
      }
    },
    async dispose() {
      await edgeloop.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A response body for field-by-field assertions with `expect`: `any` here keeps tests readable and
 * every field read is checked by the assertion that follows it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function readJson(response: Response): Promise<any> {
  return response.json();
}
