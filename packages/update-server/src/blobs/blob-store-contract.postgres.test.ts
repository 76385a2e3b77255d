import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../db/database.js';
import { openPostgres } from '../db/postgres.js';
import { hashStream, putBlob, randomBlob, readAll, sha256Of } from '../testing/blob-bytes.js';
import { startPostgresCluster, type PostgresCluster } from '../testing/postgres-cluster.js';
import { blobStoreContract } from './blob-store-contract.js';
import { cachedBlobStore } from './cached-blob-store.js';
import { postgresBlobs } from './postgres-blob-store.js';

// The cluster is started by this file and stopped after it; missing binaries fail it loudly.
const cluster: PostgresCluster = await startPostgresCluster();
afterAll(() => cluster.stop());

const CHUNK = 256 * 1024;

/** One "instance": its own connection pool and its own empty cache directory. */
async function instance(url: string, cleanup: Array<() => Promise<void>>, options: { maxCacheBytes?: number; db?: Database } = {}) {
  const db = options.db ?? (await openPostgres(url));
  const cacheDir = await mkdtemp(join(tmpdir(), 'edgeloop-blob-cache-'));
  cleanup.push(async () => {
    if (!options.db) await db.close();
    await rm(cacheDir, { recursive: true, force: true });
  });
  const shared = postgresBlobs(db, { chunkBytes: CHUNK });
  return { db, cacheDir, shared, store: cachedBlobStore(shared, { cacheDir, log: () => {}, ...(options.maxCacheBytes !== undefined && { maxCacheBytes: options.maxCacheBytes }) }) };
}

async function database(name: string): Promise<string> {
  const admin = await openPostgres(cluster.url);
  await admin.query(`create database ${name}`);
  await admin.close();
  return cluster.url.replace(/\/postgres$/, `/${name}`);
}

blobStoreContract(
  'PostgreSQL (with a local cache)',
  async () => {
    const url = await database('blob_contract');
    const cleanup: Array<() => Promise<void>> = [];
    const first = await instance(url, cleanup);
    return {
      store: first.store,
      shared: first.shared,
      otherInstance: async () => (await instance(url, cleanup)).store,
      chunkBytes: CHUNK,
      registryDb: async () => openPostgres(await database('blob_contract_registry')),
      dispose: async () => {
        for (const step of cleanup.reverse()) await step();
      },
    };
  },
  { sharedLayer: true },
);

/** Counts what the chunk table hands out, to see which reads reach the database. */
function countingChunks(db: Database): { db: Database; chunkBytesRead: () => number; reset: () => void } {
  let bytes = 0;
  const counting: Database = {
    ...db,
    async query<Row extends object>(text: string, params?: unknown[]) {
      const rows = await db.query<Row>(text, params);
      if (/from blob_chunks/.test(text)) for (const row of rows as Array<{ data?: Uint8Array }>) bytes += row.data?.byteLength ?? 0;
      return rows;
    },
    transaction: (fn) => db.transaction(fn),
    listen: (channel, onMessage) => db.listen(channel, onMessage),
    close: () => db.close(),
  };
  return { db: counting, chunkBytesRead: () => bytes, reset: () => (bytes = 0) };
}

describe('PostgreSQL blob store with a local cache', () => {
  let url: string;
  const cleanup: Array<() => Promise<void>> = [];
  beforeAll(async () => {
    url = await database('blob_cache');
  });
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('answers a Range that misses the cache with only the chunks it overlaps', async () => {
    const writer = await instance(url, cleanup);
    const bytes = randomBlob(40 * CHUNK);
    const sha256 = await putBlob(writer.store, bytes);
    const base = await openPostgres(url);
    cleanup.push(() => base.close());
    const counted = countingChunks(base);
    const reader = await instance(url, cleanup, { db: counted.db });
    const start = 17 * CHUNK + 100;
    const end = 18 * CHUNK + 99; // crosses one boundary: two chunks, and only the bytes asked for
    const got = await readAll(reader.store.read(sha256, { start, end }));
    expect(Buffer.from(got).equals(Buffer.from(bytes.subarray(start, end + 1)))).toBe(true);
    expect(counted.chunkBytesRead()).toBe(end - start + 1);
    // …and a Range never fills the cache: the next whole read still goes to the database.
    counted.reset();
    expect(sha256Of(await readAll(reader.store.read(sha256)))).toBe(sha256);
    expect(counted.chunkBytesRead()).toBe(bytes.byteLength);
  });

  it('serves a file from disk once it was read whole, and a publish keeps the publisher’s copy', async () => {
    const base = await openPostgres(url);
    cleanup.push(() => base.close());
    const counted = countingChunks(base);
    const b = await instance(url, cleanup, { db: counted.db });
    const a = await instance(url, cleanup);
    const bytes = randomBlob(5 * CHUNK + 3);
    const sha256 = await putBlob(a.store, bytes);
    expect(sha256Of(await readAll(b.store.read(sha256)))).toBe(sha256); // cold: from the database, into the cache
    expect(counted.chunkBytesRead()).toBe(bytes.byteLength);
    counted.reset();
    expect(sha256Of(await readAll(b.store.read(sha256)))).toBe(sha256);
    const range = await readAll(b.store.read(sha256, { start: CHUNK, end: 3 * CHUNK }));
    expect(Buffer.from(range).equals(Buffer.from(bytes.subarray(CHUNK, 3 * CHUNK + 1)))).toBe(true);
    expect(counted.chunkBytesRead()).toBe(0);
    expect(await b.store.local.stat(sha256)).toEqual({ size: bytes.byteLength });
    expect(await a.store.local.stat(sha256)).toEqual({ size: bytes.byteLength }); // the publisher cached its upload
  });

  it('reads a cold file from the database at its reader’s pace, not ahead of it', async () => {
    const a = await instance(url, cleanup);
    const base = await openPostgres(url);
    cleanup.push(() => base.close());
    const counted = countingChunks(base);
    const b = await instance(url, cleanup, { db: counted.db });
    const sha256 = await putBlob(a.store, randomBlob(32 * CHUNK));
    const reader = b.store.read(sha256).getReader();
    await reader.read();
    await new Promise((resolve) => setTimeout(resolve, 300)); // a slow client
    // What one read asked for, plus the one chunk the stream reads ahead: never the file.
    expect(counted.chunkBytesRead()).toBeLessThanOrEqual(2 * CHUNK);
    await reader.cancel();
  });

  it('keeps no partial copy when the reader of a cold file goes away midway', async () => {
    const a = await instance(url, cleanup);
    const b = await instance(url, cleanup);
    const bytes = randomBlob(6 * CHUNK);
    const sha256 = await putBlob(a.store, bytes);
    const reader = b.store.read(sha256).getReader();
    let received = 0;
    while (received < 2 * CHUNK) received += (await reader.read()).value?.byteLength ?? Infinity;
    await reader.cancel(new Error('client went away'));
    await expect.poll(async () => (await readdir(join(b.cacheDir, 'tmp'))).length, { timeout: 2000, interval: 20 }).toBe(0);
    expect(await b.store.local.stat(sha256)).toBeNull();
    expect(b.store.cache.bytes).toBe(0);
    // The next whole read fills the cache as usual.
    expect(sha256Of(await readAll(b.store.read(sha256)))).toBe(sha256);
    expect(await b.store.local.stat(sha256)).toEqual({ size: bytes.byteLength });
  });

  it('keeps the cache under its limit, evicting the least recently used files first', async () => {
    const writer = await instance(url, cleanup);
    const reader = await instance(url, cleanup, { maxCacheBytes: 3 * CHUNK });
    const blobs = [randomBlob(CHUNK), randomBlob(CHUNK), randomBlob(CHUNK), randomBlob(CHUNK)];
    const names: string[] = [];
    for (const bytes of blobs) names.push(await putBlob(writer.store, bytes));
    for (const name of names.slice(0, 3)) await hashStream(reader.store.read(name));
    await hashStream(reader.store.read(names[0]!)); // used again: now the most recent
    await hashStream(reader.store.read(names[3]!)); // over the limit: evicts the least recent, names[1]
    const cached = await Promise.all(names.map(async (name) => (await reader.store.local.stat(name)) !== null));
    expect(cached).toEqual([true, false, true, true]);
    expect(reader.store.cache.bytes).toBe(3 * CHUNK);
    // An evicted file is still served, from the database.
    expect(sha256Of(await readAll(reader.store.read(names[1]!)))).toBe(names[1]);
  });

  it('forgets a cached copy when the blob is deleted through any instance', async () => {
    const a = await instance(url, cleanup);
    const b = await instance(url, cleanup);
    const bytes = randomBlob(CHUNK + 5);
    const sha256 = await putBlob(a.store, bytes);
    await hashStream(b.store.read(sha256));
    expect(await b.store.local.stat(sha256)).not.toBeNull();
    await a.store.delete(sha256);
    expect(await b.store.stat(sha256)).toBeNull(); // the shared store decides, not B's disk
    expect(await a.store.local.stat(sha256)).toBeNull();
  });

  it('stores chunks of at most chunkBytes (1 MiB by default) and never compresses them', async () => {
    const a = await instance(url, cleanup);
    const bytes = randomBlob(2 * CHUNK + 1);
    const sha256 = await putBlob(a.store, bytes);
    const rows = await a.db.query<{ seq: number; n: number }>('select seq, octet_length(data) as n from blob_chunks where sha256 = $1 order by seq', [sha256]);
    expect(rows.map((row) => Number(row.n))).toEqual([CHUNK, CHUNK, 1]);
    const byDefault = randomBlob(1024 * 1024 + 1);
    const hash = sha256Of(byDefault);
    await postgresBlobs(a.db).put(hash, byDefault.byteLength, new Blob([byDefault]).stream());
    const defaultRows = await a.db.query<{ n: number }>('select octet_length(data) as n from blob_chunks where sha256 = $1 order by seq', [hash]);
    expect(defaultRows.map((row) => Number(row.n))).toEqual([1024 * 1024, 1]); // 1 MiB chunks unless told otherwise
    const [storage] = await a.db.query<{ attstorage: string }>(
      "select attstorage from pg_attribute where attrelid = 'blob_chunks'::regclass and attname = 'data'",
    );
    expect(storage?.attstorage).toBe('e'); // external: out of line, uncompressed
  });
});
