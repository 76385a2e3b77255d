import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './server.js';
import { sileroV5, sileroV6 } from './test-support.js';
import { startPostgresCluster, type PostgresCluster } from './testing/postgres-cluster.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Two `startServer` instances, each with its own data directory (its own disk), on one real
 * PostgreSQL and real HTTP on loopback: what a deployment behind a load balancer looks like.
 */
describe('two instances on one PostgreSQL, each with its own disk', () => {
  let cluster: PostgresCluster;
  let dirs: string[];
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    dirs = await Promise.all([mkdtemp(join(tmpdir(), 'edgeloop-a-')), mkdtemp(join(tmpdir(), 'edgeloop-b-'))]);
    // Every instance signs with the same key, as a deployment hands it to each (EDGELOOP_SIGNING_KEY).
    const signingKeyPem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const common = { databaseUrl: cluster.url, port: 0, seed: false, signingKeyPem, log: () => {} };
    a = await startServer({ ...common, dataDir: dirs[0]!, issueAdminTokenFor: 'demo' });
    b = await startServer({ ...common, dataDir: dirs[1]! });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await cluster?.stop();
    await Promise.all((dirs ?? []).map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('serves a version published on A from B: listed in B’s manifest, whole and by Range', async () => {
    const published = await fetch(new URL('v1/admin/apps/demo/models/vad/versions/5.0.0', a.url), {
      method: 'POST',
      body: sileroV5,
      headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${a.adminToken}` },
    });
    expect(published.status).toBe(201);

    await expect
      .poll(async () => {
        const body = (await (await fetch(new URL('v1/apps/demo/manifest', b.url))).json()) as { signed: { models: Record<string, { version: string }> } };
        return body.signed.models.vad?.version;
      }, { timeout: 5000, interval: 50 })
      .toBe('5.0.0');
    const manifest = (await (await fetch(new URL('v1/apps/demo/manifest', b.url))).json()) as {
      signed: { models: { vad: { files: Array<{ url: string; sha256: string; length: number }> } } };
    };
    const file = manifest.signed.models.vad.files[0]!;
    expect(file).toMatchObject({ sha256: sha256(sileroV5), length: sileroV5.byteLength });

    const whole = await fetch(new URL(file.url, b.url));
    expect(whole.status).toBe(200);
    expect(whole.headers.get('etag')).toBe(`"${sha256(sileroV5)}"`);
    expect(sha256(new Uint8Array(await whole.arrayBuffer()))).toBe(sha256(sileroV5));

    const start = 1000;
    const end = sileroV5.byteLength - 2;
    const part = await fetch(new URL(file.url, b.url), { headers: { Range: `bytes=${start}-${end}`, 'If-Range': `"${sha256(sileroV5)}"` } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes ${start}-${end}/${sileroV5.byteLength}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(sileroV5.subarray(start, end + 1)))).toBe(true);
  });

  it('serves by Range from B a file B has never downloaded whole', async () => {
    const published = await fetch(new URL('v1/admin/apps/demo/models/vad/versions/6.0.0', a.url), {
      method: 'POST',
      body: sileroV6,
      headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${a.adminToken}` },
    });
    expect(published.status).toBe(201);
    const url = new URL(`v1/artifacts/sha256/${sha256(sileroV6)}`, b.url);
    const tail = await fetch(url, { headers: { Range: 'bytes=-100' } });
    expect(tail.status).toBe(206);
    expect(Buffer.from(await tail.arrayBuffer()).equals(Buffer.from(sileroV6.subarray(sileroV6.byteLength - 100)))).toBe(true);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(sileroV6.byteLength));
  });

  it('answers 404 on every instance for bytes no instance holds', async () => {
    for (const server of [a, b]) {
      expect((await fetch(new URL(`v1/artifacts/sha256/${'0'.repeat(64)}`, server.url))).status).toBe(404);
    }
  });
});
