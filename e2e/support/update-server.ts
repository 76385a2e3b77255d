import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROLLOUT_GATE_JOB, startServer, TELEMETRY_JOBS, type RunningServer, type TelemetryOptions } from '@edgeloop/update-server';

const HOUR = 3_600_000;

/** What a run of the release job did (packages/update-server/src/telemetry/releases/release-job.ts). */
export interface ReleaseRun {
  /** Releases written. */
  released: number;
  /** Window rows waiting for more reports (below the floor). */
  held: number;
  dropped: number;
}
/** An hour's window is closed 2 minutes after it ends (packages/update-server/src/telemetry/window-store.ts); one more for margin. */
const AFTER_CLOSE_MS = 3 * 60_000;

export interface TestUpdateServer {
  server: RunningServer;
  dataDir: string;
  /** Headers for the admin API: an admin token for app `demo`, issued at start. */
  admin: Record<string, string>;
  /** The server clock: real time plus however far {@link closeWindow} moved it. */
  now(): number;
  /**
   * What an hour of waiting does: moves the server clock past the close of the hour it is in, then
   * runs the telemetry release job and the rollout gate, as the server's own timers would then.
   * Reports already admitted are released (from `minReports` of them); later ones go to the next hour.
   * Resolves with what the release job did.
   */
  closeWindow(): Promise<ReleaseRun>;
  /** Stops the server and keeps the data directory. */
  stop(): Promise<void>;
  /** Stops the server (if running) and deletes the data directory. */
  dispose(): Promise<void>;
}

export interface TestServerOptions {
  /**
   * Telemetry settings on top of the test default: a floor of one report (a demo setting, allowed
   * on loopback only), since one browser or one Node runtime is one device.
   */
  telemetry?: TelemetryOptions;
  /** Origins whose pages may call the admin API (the demo page reads the views). */
  adminCorsOrigins?: string | string[];
}

/** A real update server on a free loopback port over a fresh data directory, seeded like `npm start`. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestUpdateServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-e2e-'));
  let ahead = 0;
  const now = () => Date.now() + ahead;
  const server = await startServer({
    dataDir,
    port: 0,
    log: () => {},
    issueAdminTokenFor: 'demo',
    now,
    telemetry: { minReports: 1, demo: true, ...options.telemetry },
    ...(options.adminCorsOrigins !== undefined && { adminCorsOrigins: options.adminCorsOrigins }),
  });
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
    now,
    async closeWindow() {
      ahead = (Math.floor(now() / HOUR) + 1) * HOUR + AFTER_CLOSE_MS - Date.now();
      const released = await server.jobs.run<ReleaseRun>(TELEMETRY_JOBS.release);
      await server.jobs.run(ROLLOUT_GATE_JOB);
      return released;
    },
    stop,
    async dispose() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
