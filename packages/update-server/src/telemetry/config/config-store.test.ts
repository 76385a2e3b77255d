import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinKeys, verifyManifestEnvelope } from '@edgeloop/protocol';
import { DEFAULT_LATENCY_RANGE, defaultTelemetryConfig, parseTelemetryConfig, seededRng, type TelemetryConfig } from '@edgeloop/telemetry';
import { createApp, type EdgeloopApp } from '../../app.js';
import { bootstrapToken } from '../../auth/bootstrap.js';
import { fsBlobStore } from '../../blobs/fs-blob-store.js';
import type { Database } from '../../db/database.js';
import { openPglite } from '../../db/pglite.js';
import { ephemeralSigner } from '../../manifest/signing-key.js';
import { readJson, sileroV5 } from '../../test-support.js';
import { deviceReport, lastPeriod, manifestConfig } from '../../testing/telemetry-devices.js';
import { TELEMETRY_JOBS } from '../telemetry-jobs.js';
import { settingsFromOptions, type TelemetryConfigOptions } from './config-options.js';
import { CONFIG_RETENTION_MS, TelemetryConfigStore } from './config-store.js';
import { narrowLatencyRanges, NARROW_HALF_RANGE, type NarrowedApp } from './narrow-latency.js';

const HOUR = 3_600_000;
let db: Database;
let dir: string;
let token: string;
const signer = ephemeralSigner();
let clock = Math.floor(Date.now() / HOUR) * HOUR + 30 * 60_000;

/** One instance over the shared database, with `config` options (a restart with other options is a new one). */
async function instance(config: TelemetryConfigOptions = {}): Promise<EdgeloopApp> {
  const app = createApp({ db, blobs: fsBlobStore(dir), signer, log: () => {}, now: () => clock, telemetry: { config, rateLimit: false, sourceLimit: false } });
  await app.ready;
  return app;
}
const manifestOf = async (app: EdgeloopApp) => {
  const envelope = await readJson(await app.app.request('/v1/apps/demo/manifest'));
  return (await verifyManifestEnvelope(envelope, await pinKeys([signer.key.publicKey]), new Date(clock), { app: 'demo' })).manifest;
};
const post = (app: EdgeloopApp, body: unknown) => app.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: JSON.stringify(body) });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgeloop-configs-'));
  db = await openPglite();
  token = (await bootstrapToken(db, { app: 'demo' })).token;
  const first = await instance();
  const res = await first.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', {
    method: 'POST', body: sileroV5, headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(201);
  await first.close();
});
afterAll(async () => {
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

describe('telemetry configs', () => {
  let initial: TelemetryConfig;

  it('signs the app’s current config into the manifest, validated, with an id computed from its content', async () => {
    const app = await instance();
    try {
      const manifest = await manifestOf(app);
      initial = parseTelemetryConfig(manifest.telemetry);
      expect(initial.id).toMatch(/^tc_[0-9a-f]{16}$/);
      const { id: _id, ...defaults } = defaultTelemetryConfig();
      const { id: _id2, ...signed } = initial;
      expect(signed).toEqual(defaults);
      // The same parameters give the same id on any instance: nothing random, nothing per process.
      const again = createApp({ db, blobs: fsBlobStore(dir), log: () => {} });
      expect(again.configs.settings).toEqual(app.configs.settings);
      await again.close();
    } finally {
      await app.close();
    }
  });

  it('refuses options no signed config could carry, naming the field', () => {
    expect(() => settingsFromOptions({ periodMs: 5 })).toThrow(/telemetry config options: invalid telemetry config: periodMs/);
    expect(() => settingsFromOptions({ health: { errored: { epsilon: -1 } } })).toThrow(/health\.errored\.epsilon/);
    expect(() => settingsFromOptions({ counters: { 'Bad Name': { clip: 1, epsilon: 1 } } })).toThrow(/counters/);
  });

  it('issues a new config when the options change (period, counters, ε), and admits reports made under the old one for 7 days', async () => {
    const before = await instance();
    const oldReport = deviceReport({ config: initial, period: lastPeriod(initial, clock), uses: [{ model: 'vad', version: '5.0.0' }], rng: seededRng(1) });
    const oldVersion = (await manifestOf(before)).version;
    await before.close();

    const app = await instance({ periodMs: 3_600_000, counters: { retries: { clip: 5, epsilon: 0.5 } }, health: { errored: { epsilon: 1 } } });
    try {
      const manifest = await manifestOf(app);
      const current = parseTelemetryConfig(manifest.telemetry);
      expect(manifest.version).toBeGreaterThan(oldVersion);
      expect(current).toMatchObject({ periodMs: 3_600_000, counters: { retries: { clip: 5, epsilon: 0.5 } }, health: { errored: { epsilon: 1 } } });
      expect(current.id).not.toBe(initial.id);
      // Reports made under either config are admitted now…
      expect((await post(app, oldReport)).status).toBe(202);
      const fresh = deviceReport({ config: current, period: lastPeriod(current, clock), uses: [{ model: 'vad', version: '5.0.0', counters: { retries: 2 } }], rng: seededRng(2) });
      expect((await post(app, fresh)).status).toBe(202);
      // …and the old one stops being admitted 7 days after it was superseded.
      const history = await app.configs.history('demo');
      expect(history.map((h) => [h.config.id, h.reason])).toEqual([[initial.id, 'initial'], [current.id, 'options']]);
      const superseded = history[0]!.supersededAt!.getTime();
      expect(TelemetryConfigStore.admissible(history, superseded + CONFIG_RETENTION_MS).has(initial.id)).toBe(true);
      expect(TelemetryConfigStore.admissible(history, superseded + CONFIG_RETENTION_MS + 1).has(initial.id)).toBe(false);
      expect(TelemetryConfigStore.admissible(history, superseded + 10 * CONFIG_RETENTION_MS).has(current.id)).toBe(true);
      const listed = await readJson(await app.app.request('/v1/admin/apps/demo/telemetry/config', { headers: { Authorization: `Bearer ${token}` } }));
      expect(listed.current).toEqual(current);
      expect(listed.history.map((h: { id: string; admitted: boolean }) => [h.id, h.admitted])).toEqual([[initial.id, true], [current.id, true]]);
      await expect(db.query('delete from telemetry_configs')).rejects.toThrow(/append-only/);
    } finally {
      await app.close();
    }
    // Back to the first options: the first config is current again under its own id.
    const back = await instance();
    expect(parseTelemetryConfig((await manifestOf(back)).telemetry).id).toBe(initial.id);
    await back.close();
  });
});

describe('latency ranges narrowed from released data', () => {
  it('centres a (model, backend) field’s range on its released geometric mean once 200 reports tell it, at most once a day', async () => {
    // A precise p50 (ε 8) so that 240 reports know the centre well; under the default ε they would not.
    const options: TelemetryConfigOptions = { health: { latencyP50: { epsilon: 8 } } };
    const app = await instance(options);
    try {
      const config = manifestConfig(await readJson(await app.app.request('/v1/apps/demo/manifest')));
      const rng = seededRng(7);
      const hour = Math.floor(clock / HOUR) * HOUR;
      const reports = Array.from({ length: 240 }, () => deviceReport({ config, period: lastPeriod(config, clock), uses: [{ model: 'vad', version: '5.0.0', backend: 'webgpu', latencyMs: 0.5 }], rng }));
      for (let i = 0; i < reports.length; i += 32) expect((await post(app, reports.slice(i, i + 32))).status).toBe(202);
      expect(await app.jobs.run<NarrowedApp[]>(TELEMETRY_JOBS.narrowLatency)).toEqual([]); // nothing released yet
      clock = hour + HOUR + 2 * 60_000;
      await app.jobs.run(TELEMETRY_JOBS.release);
      const narrowed = await app.jobs.run<NarrowedApp[]>(TELEMETRY_JOBS.narrowLatency);
      // Only p50 (ε 8) is known well enough; p95 keeps the default range.
      expect(narrowed).toEqual([{ app: 'demo', config: expect.anything(), changed: { 'vad/webgpu/latencyP50': { center: expect.any(Number), halfRange: NARROW_HALF_RANGE } } }]);
      // 0.5 ms is 8·log₂(0.5) = −8 latency units; the noised mean of 240 reports has a standard error ≈ 1.5.
      const { center } = narrowed[0]!.changed['vad/webgpu/latencyP50']!;
      expect(Math.abs(center + 8)).toBeLessThanOrEqual(4);
      const signed = parseTelemetryConfig((await manifestOf(app)).telemetry);
      expect(signed.latency).toEqual({ vad: { webgpu: { latencyP50: { center, halfRange: 16 }, latencyP95: DEFAULT_LATENCY_RANGE } } });
      expect(signed.health.latencyP50.epsilon).toBe(8);
      expect((await app.configs.history('demo')).at(-1)!.reason).toBe('latency');
      // Another backend's data arrives: within the day nothing changes again, a day later it does.
      const next = manifestConfig(await readJson(await app.app.request('/v1/apps/demo/manifest')));
      expect(next.id).toBe(signed.id);
      clock = hour + HOUR + 30 * 60_000;
      const more = Array.from({ length: 240 }, () => deviceReport({ config: next, period: lastPeriod(next, clock), uses: [{ model: 'vad', version: '5.0.0', backend: 'webgl', latencyMs: 4 }], rng }));
      for (let i = 0; i < more.length; i += 32) expect((await post(app, more.slice(i, i + 32))).status).toBe(202);
      clock = hour + 2 * HOUR + 2 * 60_000;
      await app.jobs.run(TELEMETRY_JOBS.release);
      expect(await app.jobs.run(TELEMETRY_JOBS.narrowLatency)).toEqual([]);
      const later = await narrowLatencyRanges({ db, configs: app.configs }, new Date(clock + 25 * HOUR));
      expect(Object.keys(later[0]!.changed)).toEqual(['vad/webgl/latencyP50']); // webgpu's centre has not moved: left as it is
      expect(Math.abs(later[0]!.changed['vad/webgl/latencyP50']!.center - 16)).toBeLessThanOrEqual(4); // 4 ms = 16 units
    } finally {
      await app.close();
    }
  });

  it('leaves a range alone while the released centre is too noisy to trust (default ε, 200 reports)', async () => {
    const app = await instance();
    try {
      const config = manifestConfig(await readJson(await app.app.request('/v1/apps/demo/manifest')));
      const rng = seededRng(8);
      const hour = Math.floor(clock / HOUR) * HOUR;
      const reports = Array.from({ length: 200 }, () => deviceReport({ config, period: lastPeriod(config, clock), uses: [{ model: 'vad', version: '5.0.0', backend: 'cpu', latencyMs: 30 }], rng }));
      for (let i = 0; i < reports.length; i += 32) expect((await post(app, reports.slice(i, i + 32))).status).toBe(202);
      clock = hour + HOUR + 2 * 60_000;
      await app.jobs.run(TELEMETRY_JOBS.release);
      expect(await narrowLatencyRanges({ db, configs: app.configs }, new Date(clock + 25 * HOUR))).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
