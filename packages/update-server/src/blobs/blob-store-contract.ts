import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  failingStream,
  generatedStream,
  hashStream,
  listed,
  peakRssGrowth,
  putBlob,
  randomBlob,
  readAll,
  sha256Of,
  streamOf,
} from '../testing/blob-bytes.js';
import { createApp } from '../app.js';
import { bootstrapToken } from '../auth/bootstrap.js';
import type { Database } from '../db/database.js';
import { openPglite } from '../db/pglite.js';
import { collectGarbage } from '../registry/gc.js';
import { sileroV5 } from '../test-support.js';
import type { BlobStore, SharedBlobStore } from './blob-store.js';

export interface BlobStoreHarness {
  /** The store as one server instance sees it. */
  store: BlobStore;
  /**
   * The same stored blobs as another instance sees them, with nothing of its own on disk yet (for
   * the filesystem store: the same directory, the only way two instances share it).
   */
  otherInstance: () => Promise<BlobStore>;
  /** The shared layer behind `store`, when it has one: its own guarantees are checked too. */
  shared?: SharedBlobStore;
  /** Where the store cuts bytes (chunks, multipart parts): Range reads are checked around it. */
  chunkBytes: number;
  /** A fresh database for the registry whose references garbage collection follows; default in-memory PGlite. */
  registryDb?: () => Promise<Database>;
  dispose: () => Promise<void>;
}

const MiB = 1024 * 1024;

async function lowerOfTwo(measure: () => Promise<number>, bound: number): Promise<number> {
  const first = await measure();
  return first < bound ? first : Math.min(first, await measure());
}

/**
 * What the server needs from any blob store: one suite, run against the filesystem, PostgreSQL
 * and S3 (blob-store-contract.*.test.ts), so every store keeps the same promises.
 */
export function blobStoreContract(name: string, open: () => Promise<BlobStoreHarness>, options: { sharedLayer: boolean }): void {
  describe(`blob store contract: ${name}`, () => {
    let harness: BlobStoreHarness;
    let store: BlobStore;
    let other: BlobStore;
    beforeAll(async () => {
      harness = await open();
      store = harness.store;
      other = await harness.otherInstance();
    }, 60_000);
    afterAll(() => harness?.dispose());

    it('stores bytes under their sha256 and reads them back on every instance', async () => {
      const bytes = randomBlob(harness.chunkBytes * 2 + 123);
      const before = Date.now();
      const sha256 = await putBlob(store, bytes);
      expect(sha256).toBe(sha256Of(bytes));
      for (const instance of [store, other]) {
        expect(await instance.stat(sha256)).toEqual({ size: bytes.byteLength });
        expect(sha256Of(await readAll(instance.read(sha256)))).toBe(sha256);
      }
      const written = (await listed(other)).get(sha256);
      // Object stores keep whole seconds.
      expect(written?.getTime()).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
      expect(written?.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    });

    it('hands the staged bytes to validation before anything is visible, and discard leaves nothing', async () => {
      const bytes = randomBlob(1000);
      const staged = await store.stage(streamOf(bytes), { maxBytes: 10_000 });
      expect(staged).toMatchObject({ sha256: sha256Of(bytes), size: 1000 });
      expect(Buffer.from(await staged.bytes()).equals(Buffer.from(bytes))).toBe(true);
      expect(sha256Of(await readAll(staged.stream()))).toBe(staged.sha256);
      expect(await store.stat(staged.sha256)).toBeNull();
      await staged.discard();
      expect(await other.stat(staged.sha256)).toBeNull();
      expect((await listed(store)).has(staged.sha256)).toBe(false);
    });

    it('refuses more than maxBytes and keeps nothing', async () => {
      const bytes = randomBlob(5000);
      await expect(store.stage(streamOf(bytes, 1000), { maxBytes: 4096 })).rejects.toMatchObject({ code: 'payload_too_large' });
      expect(await store.stat(sha256Of(bytes))).toBeNull();
    });

    it('serves Range reads that start, end or cross at chunk boundaries, on a warm and a cold instance', async () => {
      const c = harness.chunkBytes;
      const bytes = randomBlob(3 * c + 17);
      const sha256 = await putBlob(store, bytes);
      const last = bytes.byteLength - 1;
      const ranges = [
        [0, 0],
        [0, c - 1],
        [c - 1, c],
        [c, 2 * c - 1],
        [c - 1, 2 * c],
        [c + 1, c + 1],
        [2 * c + 5, last],
        [3 * c, last],
        [last, last],
        [1, last - 1],
        [0, last],
      ] as const;
      // A fresh instance first, so the shared store answers every range (nothing is cached there).
      const cold = await harness.otherInstance();
      for (const instance of [cold, store]) {
        for (const [start, end] of ranges) {
          const got = await readAll(instance.read(sha256, { start, end }));
          expect(got.byteLength, `bytes ${start}-${end}`).toBe(end - start + 1);
          expect(Buffer.from(got).equals(Buffer.from(bytes.subarray(start, end + 1))), `bytes ${start}-${end}`).toBe(true);
        }
      }
    });

    it('answers a missing blob with null, a failing read, and a harmless delete', async () => {
      const missing = sha256Of(randomBlob(16));
      for (const instance of [store, other]) {
        expect(await instance.stat(missing)).toBeNull();
        await expect(readAll(instance.read(missing))).rejects.toThrow();
        await expect(readAll(instance.read(missing, { start: 0, end: 0 }))).rejects.toThrow();
        await instance.delete(missing);
      }
      expect((await listed(store)).has(missing)).toBe(false);
    });

    it('stores the same bytes put concurrently (from several instances) once, readable whole', async () => {
      const bytes = randomBlob(harness.chunkBytes * 2 + 7);
      const instances = [store, other, await harness.otherInstance(), store];
      const staged = await Promise.all(instances.map((instance) => instance.stage(streamOf(bytes), { maxBytes: Number.MAX_SAFE_INTEGER })));
      await Promise.all(staged.map((blob) => blob.commit()));
      const sha256 = sha256Of(bytes);
      for (const instance of instances) {
        expect(await instance.stat(sha256)).toEqual({ size: bytes.byteLength });
        expect(sha256Of(await readAll(instance.read(sha256)))).toBe(sha256);
      }
      expect([...(await listed(store)).keys()].filter((name) => name === sha256)).toHaveLength(1);
    });

    it('deletes a blob for every instance, and takes it again afterwards', async () => {
      const bytes = randomBlob(harness.chunkBytes + 1);
      const sha256 = await putBlob(store, bytes);
      expect(sha256Of(await readAll(other.read(sha256)))).toBe(sha256); // the other instance may cache it now
      await store.delete(sha256);
      for (const instance of [store, other]) {
        expect(await instance.stat(sha256)).toBeNull();
        expect((await listed(instance)).has(sha256)).toBe(false);
      }
      await store.delete(sha256);
      await putBlob(other, bytes);
      expect(sha256Of(await readAll(store.read(sha256)))).toBe(sha256);
    });

    it('refreshes when a blob was written when the same bytes are stored again (GC spares uploads in flight)', async () => {
      const bytes = randomBlob(100);
      const sha256 = await putBlob(store, bytes);
      const first = (await listed(store)).get(sha256)!;
      // Object stores keep whole seconds: wait past the next one.
      await new Promise((resolve) => setTimeout(resolve, 1100 - (Date.now() % 1000) + 50));
      await putBlob(other, bytes);
      expect((await listed(store)).get(sha256)!.getTime()).toBeGreaterThan(first.getTime());
    });

    it('leaves nothing visible when an upload fails midway', async () => {
      const bytes = randomBlob(harness.chunkBytes * 2 + 99);
      await expect(store.stage(failingStream(bytes, harness.chunkBytes + 10), { maxBytes: Number.MAX_SAFE_INTEGER })).rejects.toThrow(/upload ended before its body was complete/);
      const sha256 = sha256Of(bytes);
      for (const instance of [store, other]) expect(await instance.stat(sha256)).toBeNull();
      expect((await listed(store)).has(sha256)).toBe(false);
    });

    it('streams a 64 MiB blob in and out without holding it in memory', async () => {
      // A first pass through the same code grows the heap to its working size once (about 30 MiB
      // here for any store); the measured passes must then stay far below the file's size.
      const warmUp = generatedStream(16 * MiB);
      const warm = await store.stage(warmUp.stream, { maxBytes: Number.MAX_SAFE_INTEGER });
      await warm.commit();
      await hashStream((await harness.otherInstance()).read(warm.sha256));
      await store.delete(warm.sha256);

      const size = 64 * MiB;
      // Streaming stores grow resident memory by 0-31 MiB here (chunks in flight, and what the C
      // allocator keeps); one that holds the file grows it by 95-113 MiB.
      const bound = 48 * MiB;
      const written: string[] = [];
      const putOnce = async () =>
        peakRssGrowth(async (sample) => {
          const generated = generatedStream(size, { onChunk: sample });
          const staged = await store.stage(generated.stream, { maxBytes: Number.MAX_SAFE_INTEGER });
          await staged.commit();
          expect(staged.sha256).toBe(generated.sha256());
          written.push(staged.sha256);
        });
      const readOnce = async () => {
        const cold = await harness.otherInstance();
        return peakRssGrowth(async (sample) => {
          const read = await hashStream(cold.read(written[0]!), sample);
          expect(read).toMatchObject({ sha256: written[0], size });
          expect(read.largestChunk).toBeLessThanOrEqual(Math.max(harness.chunkBytes, MiB));
        });
      };
      // A loaded machine can starve the threads that free memory, so one reading over the bound is
      // measured again: holding the file shows in every pass, that noise does not.
      const growthIn = await lowerOfTwo(putOnce, bound);
      const growthOut = await lowerOfTwo(readOnce, bound);
      const mib = (bytes: number) => (bytes / MiB).toFixed(1);
      console.info(`${name}: 64 MiB put grew RSS by ${mib(growthIn)} MiB, cold read by ${mib(growthOut)} MiB`);
      expect(growthIn).toBeLessThan(bound);
      expect(growthOut).toBeLessThan(bound);
      for (const sha256 of written) await store.delete(sha256);
    }, 120_000);

    it('loses to garbage collection only what no published file references, on every instance', async () => {
      const db = await (harness.registryDb ?? openPglite)();
      const edgeloop = createApp({ db, blobs: store, log: () => {} });
      try {
        await edgeloop.ready;
        const { token } = await bootstrapToken(db, { app: 'demo' });
        const published = await edgeloop.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', {
          method: 'POST',
          body: sileroV5,
          headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${token}` },
        });
        expect(published.status).toBe(201);
        const orphan = await putBlob(other, randomBlob(1000));
        expect((await collectGarbage(db, store, { graceMs: 60_000 })).deleted).not.toContain(orphan);
        const result = await collectGarbage(db, store, { graceMs: 0, now: new Date(Date.now() + 2000) });
        expect(result.deleted).toContain(orphan);
        expect(result.deleted).not.toContain(sha256Of(sileroV5));
        for (const instance of [store, other]) expect(await instance.stat(orphan)).toBeNull();
        expect(sha256Of(await readAll(other.read(sha256Of(sileroV5))))).toBe(sha256Of(sileroV5));
      } finally {
        await edgeloop.close();
        await db.close();
      }
    });

    if (options.sharedLayer) {
      describe('shared layer', () => {
        const shared = () => {
          if (!harness.shared) throw new Error(`the ${name} harness has no shared layer: set BlobStoreHarness.shared`);
          return harness.shared;
        };

        it('stores nothing from a body that fails midway', async () => {
          const bytes = randomBlob(harness.chunkBytes * 3);
          const sha256 = sha256Of(bytes);
          await expect(shared().put(sha256, bytes.byteLength, failingStream(bytes, harness.chunkBytes * 2 + 5))).rejects.toThrow(/connection reset/);
          expect(await shared().stat(sha256)).toBeNull();
          expect((await listed(shared())).has(sha256)).toBe(false);
        });

        it('refuses bytes that do not hash to their name or count their size, storing nothing', async () => {
          const bytes = randomBlob(harness.chunkBytes * 2 + 3);
          const wrongName = sha256Of(randomBlob(8));
          await expect(shared().put(wrongName, bytes.byteLength, streamOf(bytes))).rejects.toThrow(/refused to store/);
          expect(await shared().stat(wrongName)).toBeNull();
          const sha256 = sha256Of(bytes);
          await expect(shared().put(sha256, bytes.byteLength + 1, streamOf(bytes))).rejects.toThrow(/refused to store/);
          await expect(shared().put(sha256, bytes.byteLength - 1, streamOf(bytes))).rejects.toThrow(/refused to store/);
          expect(await shared().stat(sha256)).toBeNull();
          expect((await listed(shared())).has(sha256)).toBe(false);
        });
      });
    }
  });
}
