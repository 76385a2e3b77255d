/**
 * A real update server for the privacy attacks: `createApp` over PGlite in a temporary directory,
 * served by @hono/node-server on 127.0.0.1 (so the socket address is what the limits key on), with
 * a server clock the attack scripts move (hours close, releases are made, limits refill) and the
 * background jobs run on demand. Seeded like a small deployment: app `demo`, model `vad` 5.0.0 on
 * `stable` with a signed reference profile, 6.0.0 in a gated rollout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { ReferenceProfile, type TelemetryConfig } from '@edgeloop/telemetry';
import { createApp, ephemeralSigner, fsBlobStore, openPglite, TELEMETRY_JOBS, type EdgeloopApp, type TelemetryOptions } from '@edgeloop/update-server';
import { ROLLOUT_GATE_JOB } from '../../packages/update-server/src/app.js';
import { bootstrapToken } from '../../packages/update-server/src/auth/bootstrap.js';
import { manifestConfig } from '../../packages/update-server/src/testing/telemetry-devices.js';
import { loopbackRequest, type HttpAnswer } from './loopback-http.js';
import { normalQuantile } from './normal-quantile.js';

const require = createRequire(import.meta.url);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The features the reference profile lists: two the devices declare, and a raw input element they never do. */
export const PROFILE_FEATURES = { declared: ['x.mean', 'x.rms'], raw: 'x[300]' } as const;

export interface ServerClock {
  now(): number;
  set(ms: number): void;
  advance(ms: number): void;
}

export interface AttackServer {
  /** Base URL ending in `/`. */
  url: string;
  clock: ServerClock;
  edgeloop: EdgeloopApp;
  /** Headers with the operator's admin token (setting up, never reading telemetry in an attack). */
  operator: Record<string, string>;
  /** The config devices report under (from the signed manifest). */
  config: TelemetryConfig;
  profile: ReferenceProfile;
  /** The gated rollout of vad 5.0.0 → 6.0.0 (steps 10 %, 50 %). */
  rollout: string;
  publicKey: string;
  /** An admin API call as the operator. */
  admin(method: string, path: string, body?: unknown): Promise<HttpAnswer>;
  /** What the server's background jobs do after a window closes: releases, then the rollout gate. */
  runJobs(): Promise<void>;
  dispose(): Promise<void>;
}

export interface AttackServerOptions {
  /** `real`: the wall clock; otherwise the fake clock starts at this time (default: the middle of the current hour). */
  clock?: 'real' | number;
  telemetry?: TelemetryOptions;
}

export async function startAttackServer(options: AttackServerOptions = {}): Promise<AttackServer> {
  let time = typeof options.clock === 'number' ? options.clock : (Math.floor(Date.now() / HOUR) + 0.5) * HOUR;
  const clock: ServerClock =
    options.clock === 'real'
      ? { now: Date.now, set: () => { throw new Error('the real clock cannot be set'); }, advance: () => { throw new Error('the real clock cannot be moved'); } }
      : { now: () => time, set: (ms) => void (time = ms), advance: (ms) => void (time += ms) };
  const dir = await mkdtemp(join(tmpdir(), 'edgeloop-privacy-'));
  const db = await openPglite(process.env.PGMEM ? undefined : join(dir, 'db'));
  const signer = ephemeralSigner();
  const edgeloop = createApp({
    db,
    blobs: fsBlobStore(join(dir, 'artifacts')),
    signer,
    now: clock.now,
    host: '127.0.0.1',
    log: () => {},
    // The database stamps a manifest's issue time with its own clock, the cache ages it on the
    // server's: once the fake clock runs days ahead, a 24 h manifest would look expired at once
    // and be re-issued on every poll (bench/loop does the same).
    manifestTtlMs: 400 * DAY,
    ...(options.telemetry && { telemetry: options.telemetry }),
  });
  let server: ServerType | undefined;
  const dispose = async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await edgeloop.close();
    await db.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await edgeloop.ready;
    const { token } = await bootstrapToken(db, { app: 'demo', name: 'privacy bench operator' });
    const operator = { Authorization: `Bearer ${token}` };
    server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: edgeloop.app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
      s.once('error', reject);
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const admin = (method: string, path: string, body?: unknown) =>
      loopbackRequest(new URL(`v1/admin/apps/demo/${path}`, url), {
        method,
        headers: { ...operator, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    for (const [version, file] of [['5.0.0', 'silero_vad_v5.onnx'], ['6.0.0', 'silero_vad_v6.onnx']] as const) {
      const bytes = readFileSync(require.resolve(`@ricky0123/vad-web/dist/${file}`));
      const published = await fetch(new URL(`v1/admin/apps/demo/models/vad/versions/${version}`, url), {
        method: 'POST',
        body: bytes,
        headers: { ...operator, 'Content-Type': 'application/octet-stream' },
      });
      if (published.status !== 201) throw new Error(`publishing vad ${version} answered ${published.status}: ${await published.text()}`);
    }
    const profile = referenceProfile();
    expectStatus(await admin('PUT', 'models/vad/versions/5.0.0/profile', { profile: profile.toJSON() }), 200, 'uploading the reference profile');
    const started = await admin('POST', 'rollouts', { model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 10 }, { percentage: 50 }] });
    expectStatus(started, 201, 'starting the rollout');
    const rollout = (JSON.parse(started.body) as { id: string }).id;
    const config = manifestConfig(await (await fetch(new URL('v1/apps/demo/manifest', url))).json());
    return {
      url,
      clock,
      edgeloop,
      operator,
      config,
      profile,
      rollout,
      publicKey: signer.key.publicKey,
      admin,
      async runJobs() {
        await edgeloop.jobs.run(TELEMETRY_JOBS.release);
        await edgeloop.jobs.run(ROLLOUT_GATE_JOB);
      },
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** The signed reference profile of vad 5.0.0: N(0, 1)-like features cut at reference quantiles. */
function referenceProfile(): ReferenceProfile {
  const values = Float64Array.from({ length: 2000 }, (_, k) => normalQuantile((k + 0.5) / 2000));
  const names = [...PROFILE_FEATURES.declared, PROFILE_FEATURES.raw];
  return ReferenceProfile.fromSamples({ id: 'vad@5/ref1', numeric: names.map((name) => ({ name, values })) });
}

export function expectStatus(answer: HttpAnswer, status: number, what: string): void {
  if (answer.status !== status) throw new Error(`${what}: expected ${status}, the server answered ${answer.status}: ${answer.body}`);
}
