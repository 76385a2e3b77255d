/**
 * The real update server for the fleet simulator, in process, on a simulated clock: PGlite in
 * memory, the two Silero releases published, the simulator's reference profile uploaded, the
 * default telemetry config (latency ranges pinned to the fleet's medians, as an operator would pin
 * them), and the default gate policy. Its two gatekeepers feed the server each closed hour either
 * the simulator's releases (written as release rows, as the release job writes them) or the hour's
 * reports as real schema-3 reports over HTTP through the ingest, then run the rollout gate job and
 * follow what it decided. Devices get their arm from the signed manifest (`selectRelease`).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { pinKeys, selectRelease, verifyManifestEnvelope } from '@edgeloop/protocol';
import { decide, floorHoldback, parseTelemetryConfig, reportEpsilon, type GatePolicy, type ReferenceProfile, type TelemetryConfig, type TelemetryReport } from '@edgeloop/telemetry';
import { createApp, fsBlobStore, openPglite, TELEMETRY_JOBS, type Database, type EdgeloopApp } from '@edgeloop/update-server';
import { ROLLOUT_GATE_JOB } from '../../packages/update-server/src/app.js';
import { bootstrapToken } from '../../packages/update-server/src/auth/bootstrap.js';
import { cohortKey } from '../../packages/update-server/src/telemetry/cell-key.js';
import { BASE_MEDIAN_MS, MODEL, P95_OVER_P50, VERSIONS, type Fleet } from './fleet.js';
import { DAY, GATE_LAG_MS, HOUR, type Arrival, type Gatekeeper, type HourInput, type Outcome, type StepState } from './rollout.js';

const APP = 'demo';
/** Simulated time 0 on the server's clock: 2026-01-01T00:00Z. Each run gets its own month after it. */
const EPOCH = Date.UTC(2026, 0, 1);
const RUN_SPACING_MS = 40 * DAY;
/** Latency ranges the operator pins: ±7/8 octave around the fleet's medians (docs/rollouts.md, "The fleet simulator"). */
const HALF_RANGE = 7;
const REPORTS_PER_REQUEST = 32;
const CONCURRENT_REQUESTS = 4;

export const STEPS = [1, 5, 25, 50, 100] as const;

/** The latency ranges pinned in the server's telemetry config for the simulated fleet. */
export function pinnedLatency(): TelemetryConfig['latency'] {
  const range = (ms: number) => ({
    latencyP50: { center: Math.round(8 * Math.log2(ms)), halfRange: HALF_RANGE },
    latencyP95: { center: Math.round(8 * Math.log2(ms * P95_OVER_P50)), halfRange: HALF_RANGE },
  });
  return { [MODEL]: { wasm: range(BASE_MEDIAN_MS.wasm), webgpu: range(BASE_MEDIAN_MS.webgpu) } };
}

/** How a run's decisions compared with the pure gate's on the same releases. */
export interface Agreement {
  /** Hours at which the server and `decide` over the simulator's own releases chose differently. */
  mismatches: number;
  first?: string;
}

export class LoopServer {
  readonly edgeloop: EdgeloopApp;
  readonly config: TelemetryConfig;
  readonly profile: ReferenceProfile;
  readonly #db: Database;
  readonly #dir: string;
  readonly #token: string;
  readonly #publicKey: string;
  readonly #clock: { ms: number };
  #runs = 0;
  #http: { server: ServerType; url: string } | undefined;

  private constructor(init: { edgeloop: EdgeloopApp; db: Database; dir: string; token: string; config: TelemetryConfig; profile: ReferenceProfile; publicKey: string; clock: { ms: number } }) {
    this.edgeloop = init.edgeloop;
    this.#db = init.db;
    this.#dir = init.dir;
    this.#token = init.token;
    this.config = init.config;
    this.profile = init.profile;
    this.#publicKey = init.publicKey;
    this.#clock = init.clock;
  }

  static async open(profile: ReferenceProfile): Promise<LoopServer> {
    const dir = await mkdtemp(join(tmpdir(), 'edgeloop-loop-'));
    const db = await openPglite();
    const clock = { ms: EPOCH };
    const edgeloop = createApp({
      db,
      blobs: fsBlobStore(join(dir, 'artifacts')),
      now: () => clock.ms,
      log: () => {},
      manifestTtlMs: 400 * DAY,
      // One process sends every device's reports: the per-client limits would see one client.
      telemetry: { rateLimit: false, sourceLimit: false, config: { latency: pinnedLatency() } },
    });
    await edgeloop.ready;
    const { token } = await bootstrapToken(db, { app: APP });
    const admin = (path: string, init: RequestInit) =>
      edgeloop.app.request(`/v1/admin/apps/${APP}${path}`, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });
    const require = createRequire(import.meta.url);
    for (const [label, file] of [[VERSIONS.A, 'silero_vad_v5.onnx'], [VERSIONS.B, 'silero_vad_v6.onnx']] as const) {
      const body = readFileSync(require.resolve(`@ricky0123/vad-web/dist/${file}`));
      const res = await admin(`/models/${MODEL}/versions/${label}`, { method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' } });
      if (res.status !== 201) throw new Error(`publishing ${label} answered ${res.status}: ${await res.text()}`);
    }
    // The candidate inherits the control's profile: both arms are measured against one reference.
    const put = await admin(`/models/${MODEL}/versions/${VERSIONS.A}/profile`, { method: 'PUT', body: JSON.stringify({ profile: profile.toJSON() }), headers: { 'Content-Type': 'application/json' } });
    if (put.status !== 200) throw new Error(`uploading the profile answered ${put.status}: ${await put.text()}`);
    const envelope = await (await edgeloop.app.request(`/v1/apps/${APP}/manifest`)).json();
    const config = parseTelemetryConfig((envelope as { signed: { telemetry: unknown } }).signed.telemetry);
    return new LoopServer({ edgeloop, db, dir, token, config, profile, publicKey: edgeloop.manifests.signer.key.publicKey, clock });
  }

  /** Serves the app on a loopback port (the HTTP path). */
  async listen(): Promise<string> {
    if (this.#http) return this.#http.url;
    const server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: this.edgeloop.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
      s.once('error', reject);
    });
    const { port } = server.address() as AddressInfo;
    this.#http = { server, url: `http://127.0.0.1:${port}` };
    return this.#http.url;
  }

  async close(): Promise<void> {
    if (this.#http) await new Promise<void>((resolve) => this.#http!.server.close(() => resolve()));
    await this.edgeloop.close();
    await this.#db.close();
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #admin(method: string, path: string, body?: unknown): Promise<Response> {
    return await this.edgeloop.app.request(`/v1/admin/apps/${APP}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.#token}`, 'Content-Type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  }

  /**
   * Starts a rollout of B with the default gate at the run's simulated hour 24 (its epoch is a fresh
   * stretch of the server clock) and returns its gatekeeper. `via` chooses how telemetry reaches
   * the server. The previous run's rollout has ended; the channel goes back to A. Its releases stay
   * (they are append-only) but lie 40 days back: the gate reads a rollout's own hours only.
   */
  async startRun(fleet: Fleet, via: 'releases' | 'http', policyOverrides: Record<string, unknown> = {}): Promise<RunGate> {
    const epoch = EPOCH + this.#runs++ * RUN_SPACING_MS;
    this.setClock(epoch + DAY);
    const channel = await this.#admin('PUT', `/models/${MODEL}/channels/stable`, { version: VERSIONS.A });
    if (channel.status !== 200) throw new Error(`resetting the channel answered ${channel.status}: ${await channel.text()}`);
    const res = await this.#admin('POST', '/rollouts', { model: MODEL, toVersion: VERSIONS.B, steps: STEPS.map((percentage) => ({ percentage })), ...(Object.keys(policyOverrides).length > 0 && { gate: policyOverrides }) });
    const rollout = (await res.json()) as { id: string; gate: GatePolicy; state: string };
    if (res.status !== 201) throw new Error(`starting the rollout answered ${res.status}: ${JSON.stringify(rollout)}`);
    const url = via === 'http' ? await this.listen() : undefined;
    return new RunGate(this, fleet, rollout.id, rollout.gate, epoch, url);
  }

  /** Ends a run's rollout if it is still open (a pause waits for a person: the bench aborts it). */
  async endRun(id: string): Promise<void> {
    const state = ((await (await this.#admin('GET', `/rollouts/${id}`)).json()) as { state: string }).state;
    if (state === 'running' || state === 'paused') await this.#admin('POST', `/rollouts/${id}/abort`);
  }

  /** Moves the server's clock (simulated time; it only moves forward). */
  setClock(ms: number): void {
    this.#clock.ms = ms;
  }

  /** The signed manifest's entry for the model, verified against the server's key. */
  async manifestEntry() {
    const envelope = await (await this.edgeloop.app.request(`/v1/apps/${APP}/manifest`)).json();
    const { manifest } = await verifyManifestEnvelope(envelope, await pinKeys([this.#publicKey]), new Date(this.#clock.ms), { app: APP });
    return manifest.models[MODEL]!;
  }

  async rollout(id: string): Promise<{ state: string; stepIndex: number; percentage: number }> {
    return (await (await this.#admin('GET', `/rollouts/${id}`)).json()) as { state: string; stepIndex: number; percentage: number };
  }

  async writeReleases(rows: unknown[][]): Promise<void> {
    if (rows.length === 0) return;
    await this.#db.transaction(async (tx) => {
      for (const row of rows) {
        await tx.query(
          `insert into telemetry_releases (app, model, version, backend, cohort, window_from, window_to, reports, cell, released_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
          row,
        );
      }
    });
  }
}

/** One run's gatekeeper on the real server. */
export class RunGate implements Gatekeeper {
  readonly wantsArrivals: boolean;
  readonly agreement: Agreement = { mismatches: 0 };
  readonly rolloutId: string;
  readonly #server: LoopServer;
  readonly #fleet: Fleet;
  readonly #policy: GatePolicy;
  readonly #epoch: number;
  readonly #url: string | undefined;

  constructor(server: LoopServer, fleet: Fleet, rolloutId: string, policy: GatePolicy, epoch: number, url: string | undefined) {
    this.#server = server;
    this.#fleet = fleet;
    this.rolloutId = rolloutId;
    this.#policy = policy;
    this.#epoch = epoch;
    this.#url = url;
    this.wantsArrivals = url !== undefined;
  }

  /** Every device evaluates the signed manifest: on the candidate iff its selection says so. */
  async assign(step: StepState): Promise<Uint8Array> {
    const entry = await this.#server.manifestEntry();
    const rollout = entry.rollout;
    if (rollout === undefined || rollout.id !== this.rolloutId || rollout.percentage !== step.percentage) {
      throw new Error(`the manifest offers ${JSON.stringify(rollout)} but the simulator is at step ${step.index} (${step.percentage} %)`);
    }
    const out = new Uint8Array(this.#fleet.size);
    for (let i = 0; i < this.#fleet.size; i++) {
      const selection = selectRelease(entry, this.#fleet.installIds[i]!);
      if (selection.cohort?.step !== step.index) throw new Error(`device ${i} was assigned step ${selection.cohort?.step}, expected ${step.index}`);
      out[i] = selection.cohort.arm === 'candidate' ? 1 : 0;
    }
    return out;
  }

  async hour(input: HourInput): Promise<{ outcome: Outcome; reason: string }> {
    if (this.#url !== undefined) {
      // Reports arrive during the hour: the server files them into the window of their arrival.
      this.#server.setClock(this.#epoch + input.hour + HOUR / 2);
      await this.#send(input.arrivals);
      this.#server.setClock(this.#epoch + input.close + GATE_LAG_MS);
      await this.#server.edgeloop.jobs.run(TELEMETRY_JOBS.release);
    } else {
      const releasedAt = new Date(this.#epoch + input.close + 2 * 60_000);
      await this.#server.writeReleases(
        input.releases.map((r) => [
          APP, MODEL, VERSIONS[r.version], r.backend, cohortKey({ rollout: this.rolloutId, arm: r.arm, step: r.step }),
          new Date(this.#epoch + r.windowFrom), new Date(this.#epoch + input.close), r.cell.reports, JSON.stringify(r.cell.toJSON()), releasedAt,
        ]),
      );
      this.#server.setClock(this.#epoch + input.close + GATE_LAG_MS);
    }
    const t0 = performance.now();
    await this.#server.edgeloop.jobs.run(ROLLOUT_GATE_JOB);
    const decisionMs = performance.now() - t0;
    const [latest] = await this.#server.edgeloop.rollouts.decisions(APP, this.rolloutId, 1);
    if (latest === undefined || latest.windowEnd !== new Date(this.#epoch + input.close).toISOString()) {
      throw new Error(`the gate made no decision for the window ending at hour ${input.close / HOUR} (latest: ${latest?.windowEnd})`);
    }
    this.decisionMs.push(decisionMs);
    // The same decision from the pure function over the simulator's own releases.
    const pure = decide({
      policy: this.#policy,
      candidate: input.candidate,
      control: input.control,
      stepReports: { ...input.stepReports, withheld: floorHoldback(20, input) },
      step: input.step,
      now: input.close,
      profile: this.#server.profile,
    });
    if (pure.outcome !== latest.outcome) {
      this.agreement.mismatches += 1;
      this.agreement.first ??= `hour ${input.hour / HOUR}: server ${latest.outcome} (${latest.reason}) vs decide ${pure.outcome} (${pure.reason})`;
    }
    return { outcome: latest.outcome, reason: latest.reason };
  }

  /** Wall time of each gate job run, ms. */
  readonly decisionMs: number[] = [];

  async #send(arrivals: readonly Arrival[]): Promise<void> {
    const config = this.#server.config;
    const epsilon = reportEpsilon(config, [{ summary: true }]);
    const reports: TelemetryReport[] = arrivals.map(({ entry, noised }) => ({
      schema: 3,
      reportId: randomUUID(),
      app: APP,
      period: Math.floor((this.#epoch + entry.periodStart) / HOUR),
      config: config.id,
      epsilon,
      models: [
        {
          model: MODEL,
          version: VERSIONS[entry.version],
          backend: entry.backend,
          ...(entry.arm !== null && { cohort: { rollout: this.rolloutId, arm: entry.arm, step: entry.step } }),
          health: {
            errored: noised.errored,
            errorKind: noised.errorKind,
            latencyP50: noised.latencyP50,
            latencyP95: noised.latencyP95,
            reverted: noised.reverted,
            fellBack: noised.fellBack,
            inferences: noised.inferences,
          },
          summary: { profile: this.#server.profile.id, feature: noised.feature, cell: noised.cell },
        },
      ],
    }));
    let next = 0;
    const url = `${this.#url}/v1/apps/${APP}/telemetry`;
    await Promise.all(
      Array.from({ length: CONCURRENT_REQUESTS }, async () => {
        while (next < reports.length) {
          const batch = reports.slice(next, next + REPORTS_PER_REQUEST);
          next += batch.length;
          const res = await fetch(url, { method: 'POST', body: JSON.stringify(batch), headers: { 'Content-Type': 'application/json' } });
          if (res.status !== 202) throw new Error(`telemetry answered ${res.status}: ${await res.text()}`);
        }
      }),
    );
  }
}
