import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type EdgeloopApp } from './app.js';
import { fsBlobStore } from './blobs/fs-blob-store.js';
import { openPglite } from './db/pglite.js';

const require = createRequire(import.meta.url);

/** Real model bytes from npm packages (see MACHINE-NOTES): Silero VAD v5 and v6. */
export const sileroV5 = new Uint8Array(readFileSync(require.resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx')));
export const sileroV6 = new Uint8Array(readFileSync(require.resolve('@ricky0123/vad-web/dist/silero_vad_v6.onnx')));

export interface TestServer extends EdgeloopApp {
  artifactsDir: string;
  /** Every file under the artifacts directory, for "nothing was stored" assertions. */
  storedFiles(): Promise<string[]>;
  dispose(): Promise<void>;
}

/** An app over an in-memory PGlite and a temporary artifacts directory. */
export async function createTestServer(options: { maxUploadBytes?: number } = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-server-'));
  const artifactsDir = join(dir, 'artifacts');
  const db = await openPglite();
  const edgeloop = createApp({ db, blobs: fsBlobStore(artifactsDir), log: () => {}, ...options });
  return {
    ...edgeloop,
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
