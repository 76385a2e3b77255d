import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReleaseCell, seededRng, type ReleaseCellJSON, type TelemetryReport } from '@edgeloop/telemetry';
import { createApp, type EdgeloopApp } from '../../app.js';
import { bootstrapToken } from '../../auth/bootstrap.js';
import { fsBlobStore } from '../../blobs/fs-blob-store.js';
import type { Database } from '../../db/database.js';
import { openPostgres } from '../../db/postgres.js';
import { ephemeralSigner } from '../../manifest/signing-key.js';
import { readJson, sileroV5 } from '../../test-support.js';
import { startPostgresCluster, type PostgresCluster } from '../../testing/postgres-cluster.js';
import { deviceReport, lastPeriod, manifestConfig } from '../../testing/telemetry-devices.js';
import { TELEMETRY_JOBS } from '../telemetry-jobs.js';
import type { ReleaseRun } from './release-job.js';

// A real PostgreSQL: two instances share one database, a third has its own; both must end with the same releases.
const cluster: PostgresCluster = await startPostgresCluster();
const HOUR = 3_600_000;
let clock = Math.floor(Date.now() / HOUR) * HOUR + 30 * 60_000;
const dbs: Database[] = [];
const apps: EdgeloopApp[] = [];
let dir: string;

async function database(name: string): Promise<string> {
  const admin = await openPostgres(cluster.url);
  await admin.query(`create database ${name}`);
  await admin.close();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}

async function instance(url: string, blobs: string): Promise<EdgeloopApp> {
  const db = await openPostgres(url);
  dbs.push(db);
  const app = createApp({ db, blobs: fsBlobStore(blobs), signer: ephemeralSigner(), log: () => {}, now: () => clock, telemetry: { rateLimit: false, sourceLimit: false } });
  apps.push(app);
  await app.ready;
  return app;
}

async function publish(app: EdgeloopApp, db: Database): Promise<void> {
  const { token } = await bootstrapToken(db, { app: 'demo' });
  const res = await app.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', {
    method: 'POST', body: sileroV5, headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${token}` },
  });
  expect(res.status).toBe(201);
}

const post = async (app: EdgeloopApp, reports: TelemetryReport[]) => {
  const res = await app.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: JSON.stringify(reports) });
  expect(res.status).toBe(202);
};

async function releases(db: Database) {
  const rows = await db.query<{ backend: string; window_from: Date; window_to: Date; reports: number; cell: ReleaseCellJSON }>(
    'select backend, window_from, window_to, reports, cell from telemetry_releases order by backend',
  );
  return rows.map((r) => ({ backend: r.backend, from: r.window_from.toISOString(), to: r.window_to.toISOString(), reports: Number(r.reports), cell: ReleaseCell.fromJSON(r.cell).toJSON() }));
}

let a: EdgeloopApp;
let b: EdgeloopApp;
let single: EdgeloopApp;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgeloop-releases-pg-'));
  const shared = await database('two');
  const alone = await database('one');
  a = await instance(shared, join(dir, 'shared'));
  b = await instance(shared, join(dir, 'shared'));
  single = await instance(alone, join(dir, 'alone'));
  await publish(a, dbs[0]!);
  await publish(single, dbs[2]!);
});
afterAll(async () => {
  for (const app of apps) await app.close();
  for (const db of dbs) await db.close();
  await rm(dir, { recursive: true, force: true });
  await cluster.stop();
});

describe('releases with two instances on one PostgreSQL', () => {
  it('produce exactly the releases one instance produces from the same reports', async () => {
    const config = manifestConfig(await readJson(await a.app.request('/v1/apps/demo/manifest')));
    // Content-derived ids: every instance, on any database, issues the same config for the same options.
    expect(manifestConfig(await readJson(await single.app.request('/v1/apps/demo/manifest'))).id).toBe(config.id);
    expect(manifestConfig(await readJson(await b.app.request('/v1/apps/demo/manifest'))).id).toBe(config.id);
    const rng = seededRng(99);
    const make = (n: number, backend: string) =>
      Array.from({ length: n }, () => deviceReport({ config, period: lastPeriod(config, clock), uses: [{ model: 'vad', version: '5.0.0', backend, failed: 1 }], rng }));
    const reports = [...make(64, 'wasm'), ...make(24, 'webgpu'), ...make(8, 'cpu')].sort(() => rng.next() - 0.5);
    const batches = Array.from({ length: reports.length / 8 }, (_, i) => reports.slice(i * 8, i * 8 + 8));
    // A and B write the same window rows at the same time; the single instance gets everything.
    await Promise.all(batches.map((batch, i) => post(i % 2 === 0 ? a : b, batch)));
    for (const batch of batches) await post(single, batch);

    clock = Math.floor(clock / HOUR) * HOUR + HOUR + 2 * 60_000;
    const runs = await Promise.all([a.jobs.run<ReleaseRun>(TELEMETRY_JOBS.release), b.jobs.run<ReleaseRun>(TELEMETRY_JOBS.release)]);
    expect(runs.reduce((n, r) => n + r.released, 0)).toBe(2);
    expect(await single.jobs.run<ReleaseRun>(TELEMETRY_JOBS.release)).toEqual({ released: 2, held: 1, dropped: 0 });
    const shared = await releases(dbs[0]!);
    expect(shared.map((r) => [r.backend, r.reports])).toEqual([['wasm', 64], ['webgpu', 24]]);
    expect(shared).toEqual(await releases(dbs[2]!));
    // Running again, on either, releases nothing twice.
    expect((await b.jobs.run<ReleaseRun>(TELEMETRY_JOBS.release)).released).toBe(0);
    expect(await releases(dbs[0]!)).toEqual(shared);
  });
});
