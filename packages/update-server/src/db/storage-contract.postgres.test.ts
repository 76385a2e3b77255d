import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type EdgeloopApp } from '../app.js';
import { bootstrapToken } from '../auth/bootstrap.js';
import { fsBlobStore } from '../blobs/fs-blob-store.js';
import { ephemeralSigner } from '../manifest/signing-key.js';
import { sileroV5, sileroV6 } from '../test-support.js';
import { startPostgresCluster, type PostgresCluster } from '../testing/postgres-cluster.js';
import type { Database } from './database.js';
import { openPostgres } from './postgres.js';
import { storageContract } from './storage-contract.js';

// The cluster is started by this file and stopped after it; missing binaries fail it loudly.
const cluster: PostgresCluster = await startPostgresCluster();
afterAll(() => cluster.stop());

storageContract('PostgreSQL', async () => {
  await openPostgres(cluster.url).then((db) => db.query('create database contract')).catch(() => undefined);
  const url = cluster.url.replace(/\/postgres$/, '/contract');
  const db = await openPostgres(url);
  return { db, reopen: () => openPostgres(url), dispose: () => db.close() };
});

describe('two server instances on one PostgreSQL', () => {
  let dbA: Database;
  let dbB: Database;
  let a: EdgeloopApp;
  let b: EdgeloopApp;
  let token: string;
  let dir: string;

  beforeAll(async () => {
    const admin = await openPostgres(cluster.url);
    await admin.query('create database shared');
    await admin.close();
    const url = cluster.url.replace(/\/postgres$/, '/shared');
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-two-'));
    // Both instances share the artifacts directory, as they would share an object store.
    const signer = ephemeralSigner();
    [dbA, dbB] = await Promise.all([openPostgres(url), openPostgres(url)]);
    a = createApp({ db: dbA, blobs: fsBlobStore(dir), signer, log: () => {} });
    b = createApp({ db: dbB, blobs: fsBlobStore(dir), signer, log: () => {} });
    await Promise.all([a.ready, b.ready]);
    token = (await bootstrapToken(dbA, { app: 'demo' })).token;
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    await Promise.all([dbA.close(), dbB.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  const manifestOf = async (instance: EdgeloopApp) => {
    const body = (await (await instance.app.request('/v1/apps/demo/manifest')).json()) as { signed?: unknown };
    return (body.signed ?? body) as { models: Record<string, { version: string; rollout?: { percentage: number } }> };
  };

  it('serves a rollout change made through A from B within one second', async () => {
    for (const [label, bytes] of [['5.0.0', sileroV5], ['6.0.0', sileroV6]] as const) {
      const res = await a.app.request(`/v1/admin/apps/demo/models/vad/versions/${label}`, {
        method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(201);
    }
    expect((await manifestOf(b)).models.vad).toMatchObject({ version: '5.0.0' }); // B now caches it
    const started = await a.app.request('/v1/admin/apps/demo/rollouts', {
      method: 'POST',
      body: JSON.stringify({ model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 10 }, { percentage: 50 }] }),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    });
    expect(started.status).toBe(201);
    const changedAt = Date.now();
    let seen: number | undefined;
    while (Date.now() - changedAt < 1000) {
      seen = (await manifestOf(b)).models.vad!.rollout?.percentage;
      if (seen === 10) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen).toBe(10);
    expect(Date.now() - changedAt).toBeLessThan(1000);
    // B answered from memory: the notification, not a poll-time query, refreshed it.
    const again = await b.app.request('/v1/apps/demo/manifest');
    expect(again.headers.get('etag')).toBe((await a.app.request('/v1/apps/demo/manifest')).headers.get('etag'));
  });

  it('keeps serving changes made through A after the LISTEN connections were cut', async () => {
    const admin = await openPostgres(cluster.url);
    try {
      // What a network blip or a server restart does to the long-lived LISTEN connections:
      const cut = await admin.query<{ pid: number }>(
        "select pg_terminate_backend(pid) as pid from pg_stat_activity where datname = 'shared' and query ilike 'listen%'",
      );
      expect(cut.length).toBeGreaterThanOrEqual(2);
    } finally {
      await admin.close();
    }
    const pinned = await a.app.request('/v1/admin/apps/demo/models/vad/channels/stable/pin', {
      method: 'POST',
      body: JSON.stringify({ version: '6.0.0' }),
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    });
    expect(pinned.status).toBe(200);
    // B reconnects (first retry after 250 ms), re-subscribes and rebuilds what it caches.
    await expect.poll(async () => (await manifestOf(b)).models.vad!.version, { timeout: 10_000, interval: 50 }).toBe('6.0.0');
    // …and hears later changes again.
    const released = await a.app.request('/v1/admin/apps/demo/models/vad/channels/stable/pin', {
      method: 'DELETE',
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(released.status).toBeLessThan(300);
  });
});
