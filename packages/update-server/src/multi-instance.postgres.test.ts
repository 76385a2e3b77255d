import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from './db/postgres.js';
import { startServer, type RunningServer } from './server.js';
import { sileroV5, sileroV6 } from './test-support.js';
import { startFakeS3, type FakeS3 } from './testing/fake-s3.js';
import { startPostgresCluster, type PostgresCluster } from './testing/postgres-cluster.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const cachedPath = (dataDir: string, hash: string) => join(dataDir, 'artifacts', 'sha256', hash.slice(0, 2), hash);
const signingKeyPem = () => generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

async function publish(server: RunningServer, version: string, bytes: Uint8Array): Promise<void> {
  const response = await fetch(new URL(`v1/admin/apps/demo/models/vad/versions/${version}`, server.url), {
    method: 'POST',
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${server.adminToken}` },
  });
  expect(response.status).toBe(201);
}

async function createDatabase(cluster: PostgresCluster, name: string): Promise<string> {
  const admin = await openPostgres(cluster.url);
  await admin.query(`create database ${name}`);
  await admin.close();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}

// One throwaway cluster for the file, one database per scenario; missing binaries fail it loudly.
const cluster: PostgresCluster = await startPostgresCluster();
afterAll(() => cluster.stop());

/**
 * Two `startServer` instances, each with its own data directory (its own disk), on one real
 * PostgreSQL and real HTTP on loopback: what a deployment behind a load balancer looks like.
 */
describe('two instances on one PostgreSQL, each with its own disk', () => {
  let dirs: string[];
  let a: RunningServer;
  let b: RunningServer;

  beforeAll(async () => {
    const databaseUrl = await createDatabase(cluster, 'two');
    dirs = await Promise.all([mkdtemp(join(tmpdir(), 'edgeloop-a-')), mkdtemp(join(tmpdir(), 'edgeloop-b-'))]);
    // Every instance signs with the same key, as a deployment hands it to each (EDGELOOP_SIGNING_KEY).
    const common = { databaseUrl, port: 0, seed: false, signingKeyPem: signingKeyPem(), log: () => {} };
    a = await startServer({ ...common, dataDir: dirs[0]!, issueAdminTokenFor: 'demo' });
    b = await startServer({ ...common, dataDir: dirs[1]! });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
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
    // B kept a copy on its own disk (written as the last byte went out, which the client may see
    // first): the next request for this hot file is served from there.
    await expect.poll(() => existsSync(cachedPath(dirs[1]!, file.sha256)), { timeout: 2000, interval: 10 }).toBe(true);

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

describe('upgrading instances that kept artifacts on their own disk', () => {
  const dirs: string[] = [];
  const running: RunningServer[] = [];
  afterAll(async () => {
    await Promise.all(running.map((server) => server.close()));
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('copies what an instance published to its disk into the shared store when it restarts', async () => {
    const databaseUrl = await createDatabase(cluster, 'upgrade');
    const [dirA, dirB] = await Promise.all([mkdtemp(join(tmpdir(), 'edgeloop-old-')), mkdtemp(join(tmpdir(), 'edgeloop-new-'))]);
    dirs.push(dirA, dirB);
    const common = { databaseUrl, port: 0, seed: false, signingKeyPem: signingKeyPem() };
    // Before: PostgreSQL shared, artifacts on each instance's disk.
    const warnings: string[] = [];
    const before = await startServer({ ...common, dataDir: dirA, blobStore: { kind: 'fs' }, issueAdminTokenFor: 'demo', log: (line) => warnings.push(line) });
    expect(warnings).toContain(
      `artifacts are on this instance's disk only: other instances on this database answer 404 for them unless the directory is shared; use --blob-store postgres or s3://…`,
    );
    await publish(before, '5.0.0', sileroV5);
    await before.close();
    expect(existsSync(cachedPath(dirA, sha256(sileroV5)))).toBe(true);

    const logs: string[] = [];
    const a = await startServer({ ...common, dataDir: dirA, log: (line) => logs.push(line) });
    running.push(a);
    expect(logs).toContain('artifacts: postgres, cached in ' + join(dirA, 'artifacts') + ' (up to 10 GiB)');
    expect(logs.some((line) => line.startsWith('copied 1 published artifact(s) from this instance\'s disk to postgres'))).toBe(true);
    const b = await startServer({ ...common, dataDir: dirB, log: () => {} });
    running.push(b);
    const response = await fetch(new URL(`v1/artifacts/sha256/${sha256(sileroV5)}`, b.url));
    expect(response.status).toBe(200);
    expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(sha256(sileroV5));
  });
});

describe('two instances sharing an S3 bucket (s3rver)', () => {
  let s3: FakeS3;
  const dirs: string[] = [];
  let a: RunningServer;
  let b: RunningServer;
  beforeAll(async () => {
    s3 = await startFakeS3();
    const databaseUrl = await createDatabase(cluster, 'with_s3');
    dirs.push(await mkdtemp(join(tmpdir(), 'edgeloop-s3a-')), await mkdtemp(join(tmpdir(), 'edgeloop-s3b-')));
    const blobStore = {
      kind: 's3',
      bucket: s3.bucket,
      prefix: 'prod/',
      forcePathStyle: true,
      client: { endpoint: s3.endpoint, region: 'us-east-1', credentials: s3.credentials },
    } as const;
    const common = { databaseUrl, blobStore, port: 0, seed: false, signingKeyPem: signingKeyPem(), log: () => {} };
    a = await startServer({ ...common, dataDir: dirs[0]!, issueAdminTokenFor: 'demo' });
    b = await startServer({ ...common, dataDir: dirs[1]! });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await s3?.stop();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('serves from B, whole and by Range, a version published on A', async () => {
    await publish(a, '6.0.0', sileroV6);
    const url = new URL(`v1/artifacts/sha256/${sha256(sileroV6)}`, b.url);
    const part = await fetch(url, { headers: { Range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(Buffer.from(sileroV6.subarray(100, 200)))).toBe(true);
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(sha256(new Uint8Array(await whole.arrayBuffer()))).toBe(sha256(sileroV6));
    await expect.poll(() => existsSync(cachedPath(dirs[1]!, sha256(sileroV6))), { timeout: 2000, interval: 10 }).toBe(true);
  });
});
