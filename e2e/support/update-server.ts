import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '@edgeloop/update-server';

export interface TestUpdateServer {
  server: RunningServer;
  dataDir: string;
  /** Headers for the admin API: an admin token for app `demo`, issued at start. */
  admin: Record<string, string>;
  /** Stops the server and keeps the data directory. */
  stop(): Promise<void>;
  /** Stops the server (if running) and deletes the data directory. */
  dispose(): Promise<void>;
}

/** A real update server on a free loopback port over a fresh data directory, seeded like `npm start`. */
export async function startTestServer(): Promise<TestUpdateServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-e2e-'));
  // One browser is one device: the tests read their own single report, so the floor is one report
  // (a demo setting, allowed on loopback only).
  const server = await startServer({ dataDir, port: 0, log: () => {}, issueAdminTokenFor: 'demo', telemetry: { minReports: 1, demo: true } });
  let running = true;
  async function stop() {
    if (!running) return;
    running = false;
    await server.close();
  }
  return {
    server,
    dataDir,
    admin: { Authorization: `Bearer ${server.adminToken}` },
    stop,
    async dispose() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
