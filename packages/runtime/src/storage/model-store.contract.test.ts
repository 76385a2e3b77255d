import 'fake-indexeddb/auto';
import { mkdtempSync } from 'node:fs';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDB } from 'idb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ModelRelease } from '@edgeloop/protocol';
import { fileSystemStore } from './filesystem-store.js';
import { indexedDbStore } from './indexeddb-store.js';
import { KEEP_PARTIAL_MS, type ModelStore } from './model-store.js';
import { commitTrial, countCrash, revertTrial } from '../health/health-state.js';

const root = mkdtempSync(join(tmpdir(), 'edgeloop-store-'));
let counter = 0;
const factories: Array<{ kind: string; make(): () => ModelStore }> = [
  { kind: 'IndexedDB', make: () => { const name = `contract-${++counter}`; return () => indexedDbStore({ name }); } },
  { kind: 'filesystem', make: () => { const directory = join(root, `contract-${++counter}`); return () => fileSystemStore({ directory }); } },
];
const release = (version: string, sha256: string, length: number): ModelRelease => ({
  model: 'vad',
  version,
  releaseId: `vad@${version}`,
  format: 'onnx',
  files: [{ role: 'model', sha256, length, url: `v1/artifacts/sha256/${sha256}` }],
});
const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);

describe.each(factories)('ModelStore contract ($kind)', ({ make }) => {
  it('appends in order only, survives a restart mid-file, and completes', async () => {
    const open = make();
    const store = open();
    await store.appendFile({ sha256: SHA_A, length: 6, etag: '"e"' }, 0, Uint8Array.of(1, 2, 3));
    await expect(store.appendFile({ sha256: SHA_A, length: 6, etag: '"e"' }, 1, Uint8Array.of(9))).rejects.toMatchObject({ code: 'storage' });
    await expect(store.completeFile(SHA_A)).rejects.toMatchObject({ code: 'storage' });
    store.close();
    // A new instance (the app restarted) sees the stored prefix and its resume state.
    const reopened = open();
    expect(await reopened.getFile(SHA_A)).toMatchObject({ received: 3, complete: false, etag: '"e"' });
    expect(new Uint8Array((await reopened.readPartial(SHA_A))!)).toEqual(Uint8Array.of(1, 2, 3));
    expect(await reopened.readFile(SHA_A)).toBeNull();
    await reopened.appendFile({ sha256: SHA_A, length: 6, etag: '"e"' }, 3, Uint8Array.of(4, 5, 6));
    await reopened.completeFile(SHA_A);
    expect(new Uint8Array((await reopened.readFile(SHA_A))!)).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6));
    expect(await reopened.usage()).toBe(6);
  });

  it('completes a file with its last append, and only when that append reaches its length', async () => {
    const store = make()();
    await store.appendFile({ sha256: SHA_B, length: 4, etag: null }, 0, Uint8Array.of(1, 2));
    await expect(store.appendFile({ sha256: SHA_B, length: 4, etag: null }, 2, Uint8Array.of(3), { complete: true })).rejects.toMatchObject({
      code: 'storage',
      message: expect.stringMatching(/cannot be marked complete/),
    });
    expect(await store.getFile(SHA_B)).toMatchObject({ received: 2, complete: false });
    await store.appendFile({ sha256: SHA_B, length: 4, etag: null }, 2, Uint8Array.of(3, 4), { complete: true });
    expect(await store.getFile(SHA_B)).toMatchObject({ received: 4, complete: true });
    expect(new Uint8Array((await store.readFile(SHA_B))!)).toEqual(Uint8Array.of(1, 2, 3, 4));
    await expect(store.appendFile({ sha256: SHA_B, length: 4, etag: null }, 4, Uint8Array.of(5))).rejects.toMatchObject({ code: 'storage' });
  });

  it('refuses to activate a release whose files are not complete, and keeps the active one', async () => {
    const store = make()();
    await store.appendFile({ sha256: SHA_A, length: 1, etag: null }, 0, Uint8Array.of(1));
    await store.completeFile(SHA_A);
    await store.activate('demo', release('1', SHA_A, 1));
    await store.appendFile({ sha256: SHA_B, length: 2, etag: null }, 0, Uint8Array.of(1));
    await expect(store.activate('demo', release('2', SHA_B, 2))).rejects.toMatchObject({ code: 'storage', message: expect.stringMatching(/not stored complete/) });
    expect((await store.getModel('demo', 'vad')).active?.version).toBe('1');
  });

  it('never collects files of the active, previous or staged release; collects the rest LRU-first', async () => {
    const store = make()();
    const shas = ['1', '2', '3', '4'].map((digit) => digit.repeat(64));
    for (const sha of shas) {
      await store.appendFile({ sha256: sha, length: 1, etag: null }, 0, Uint8Array.of(1));
      await store.completeFile(sha);
    }
    await store.activate('demo', release('1', shas[0]!, 1));
    await store.activate('demo', release('2', shas[1]!, 1));
    await store.stage('demo', release('3', shas[2]!, 1));
    expect(await store.collect()).toEqual({ freedBytes: 1, removedFiles: 1 });
    expect(await store.getFile(shas[3]!)).toBeNull();
    for (const sha of shas.slice(0, 3)) expect(await store.getFile(sha)).toMatchObject({ complete: true });
  });
});

describe.each(factories)('ModelStore trial state ($kind)', ({ make }) => {
  const stored = async (store: ModelStore, digit: string) => {
    const sha = digit.repeat(64);
    await store.appendFile({ sha256: sha, length: 1, etag: null }, 0, Uint8Array.of(1), { complete: true });
    return sha;
  };

  it('puts a replacing release on trial with the previous as its fallback; revert and deny are one step that survives a restart', async () => {
    const open = make();
    const store = open();
    const five = release('5', await stored(store, '5'), 1);
    const six = release('6', await stored(store, '6'), 1);
    await store.activate('demo', five);
    expect((await store.getModel('demo', 'vad')).health.trial).toBeNull(); // a first install has nothing to fall back to
    await store.activate('demo', six);
    const during = await store.getModel('demo', 'vad');
    expect(during).toMatchObject({ active: { version: '6' }, previous: { version: '5' }, health: { trial: { releaseId: six.releaseId, version: '6' } } });
    store.close();

    const reopened = open();
    const after = await reopened.updateModel('demo', 'vad', (record) => {
      expect(revertTrial(record, six, 'golden_mismatch', "output 'y': cosine 0.2 < 0.99", 1000)).toBe('reverted');
    });
    expect(after).toMatchObject({ active: { version: '5' }, previous: null, health: { trial: null } });
    const restarted = await open().getModel('demo', 'vad');
    expect(restarted.active?.version).toBe('5');
    expect(restarted.health.denied).toEqual([{ releaseId: six.releaseId, version: '6', reason: 'golden_mismatch', detail: "output 'y': cosine 0.2 < 0.99", at: 1000 }]);
  });

  it('commits a trial; a release replacing one on trial falls back to the last committed release', async () => {
    const store = make()();
    const [five, six, seven] = await Promise.all(['5', '6', '7'].map(async (v) => release(v, await stored(store, v), 1)));
    await store.activate('demo', five!);
    await store.activate('demo', six!);
    await store.activate('demo', seven!); // six never proved itself
    expect(await store.getModel('demo', 'vad')).toMatchObject({ active: { version: '7' }, previous: { version: '5' }, health: { trial: { version: '7' } } });
    await store.updateModel('demo', 'vad', (record) => expect(commitTrial(record, seven!.releaseId)).toBe('committed'));
    expect(await store.getModel('demo', 'vad')).toMatchObject({ active: { version: '7' }, previous: { version: '5' }, health: { trial: null } });
    // Files of the fallback are kept while it is `previous`.
    expect(await store.collect()).toMatchObject({ removedFiles: 1 });
    expect(await store.getFile(five!.files[0]!.sha256)).toMatchObject({ complete: true });
  });

  it('applies concurrent changes from two store instances without losing one', async () => {
    const open = make();
    const [a, b] = [open(), open()];
    await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).updateModel('demo', 'vad', (record) => void countCrash(record, 'vad@6', `lease-${i}`))));
    expect((await open().getModel('demo', 'vad')).health.crashes['vad@6']).toHaveLength(12);
  });

  it('keeps trial leases per model until they are deleted', async () => {
    const open = make();
    const store = open();
    await store.putLease({ id: 'L1', holder: 'h1', app: 'demo', model: 'vad', releaseId: 'vad@6', version: '6', at: 1 });
    await store.putLease({ id: 'L2', holder: 'h1', app: 'demo', model: 'asr', releaseId: 'asr@2', version: '2', at: 2 });
    store.close();
    const reopened = open();
    expect(await reopened.listLeases('demo', 'vad')).toEqual([{ id: 'L1', holder: 'h1', app: 'demo', model: 'vad', releaseId: 'vad@6', version: '6', at: 1 }]);
    await reopened.deleteLease('L1');
    expect(await reopened.listLeases('demo', 'vad')).toEqual([]);
    expect(await reopened.listLeases('demo', 'asr')).toHaveLength(1);
  });
});

describe.each(factories)('ModelStore start-up sweep ($kind)', ({ make }) => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('removes partial downloads older than the resume window; keeps recent ones and complete files', async () => {
    const store = make()();
    const [complete, recent, abandoned] = ['c', 'd', 'e'].map((digit) => digit.repeat(64)) as [string, string, string];
    const started = Date.parse('2026-11-27T12:00:00Z');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(started);
    await store.appendFile({ sha256: abandoned, length: 4, etag: '"e"' }, 0, Uint8Array.of(1, 2, 3));
    vi.setSystemTime(started + KEEP_PARTIAL_MS + 60_000);
    await store.appendFile({ sha256: complete, length: 1, etag: null }, 0, Uint8Array.of(1), { complete: true });
    await store.appendFile({ sha256: recent, length: 4, etag: '"e"' }, 0, Uint8Array.of(1, 2));

    expect(await store.collect({ keepComplete: true })).toEqual({ freedBytes: 3, removedFiles: 1 });
    expect(await store.getFile(abandoned)).toBeNull();
    expect(await store.getFile(recent)).toMatchObject({ received: 2, complete: false });
    expect(await store.getFile(complete)).toMatchObject({ complete: true });
    expect(await store.usage()).toBe(3);
  });
});

describe('ModelStore start-up sweep: bytes without a record', () => {
  it('IndexedDB: removes chunks whose file record is gone', async () => {
    const name = 'orphans-idb';
    const store = indexedDbStore({ name });
    await store.appendFile({ sha256: SHA_A, length: 2, etag: null }, 0, Uint8Array.of(1, 2), { complete: true });
    const raw = await openDB(name);
    await raw.put('chunks', { sha256: SHA_B, offset: 0, bytes: new Blob([Uint8Array.of(1, 2, 3)]) });
    await raw.put('chunks', { sha256: SHA_B, offset: 3, bytes: new Blob([Uint8Array.of(4)]) });
    raw.close();

    expect(await store.collect({ keepComplete: true })).toEqual({ freedBytes: 4, removedFiles: 1 });
    const after = await openDB(name);
    expect(await after.getAllKeys('chunks')).toEqual([[SHA_A, 0]]);
    after.close();
    expect(new Uint8Array((await store.readFile(SHA_A))!)).toEqual(Uint8Array.of(1, 2));
  });

  it('filesystem: removes old bytes without a progress record, progress without bytes, and cut temporary files', async () => {
    const directory = join(root, 'orphans-fs');
    const store = fileSystemStore({ directory });
    await store.appendFile({ sha256: SHA_A, length: 2, etag: null }, 0, Uint8Array.of(1, 2), { complete: true });
    const partial = join(directory, 'partial');
    const old = new Date(Date.now() - KEEP_PARTIAL_MS - 60_000);
    await writeFile(join(partial, SHA_B), Uint8Array.of(1, 2, 3));
    await utimes(join(partial, SHA_B), old, old);
    await writeFile(join(partial, `${'f'.repeat(64)}.json`), '{"length":9,"received":3,"etag":null,"lastUsed":0}');
    await writeFile(join(partial, `${'f'.repeat(64)}.json.tmp`), '{"len');
    await utimes(join(partial, `${'f'.repeat(64)}.json.tmp`), old, old);
    // Fresh bytes without a record may be a write in progress: kept.
    await writeFile(join(partial, 'c'.repeat(64)), Uint8Array.of(1));

    expect(await store.collect({ keepComplete: true })).toEqual({ freedBytes: 3, removedFiles: 1 });
    expect((await readdir(partial)).sort()).toEqual(['c'.repeat(64)]);
    expect(new Uint8Array((await store.readFile(SHA_A))!)).toEqual(Uint8Array.of(1, 2));
  });
});

describe('IndexedDB leases on page hide', () => {
  it('deletes a lease with a request started synchronously once the database is open', async () => {
    const store = indexedDbStore({ name: 'lease-now' });
    expect(store.deleteLeaseNow!('L0')).toBe(false); // not open yet: nothing can start synchronously
    await store.putLease({ id: 'L1', holder: 'h1', app: 'demo', model: 'vad', releaseId: 'vad@6', version: '6', at: 1 });
    expect(store.deleteLeaseNow!('L1')).toBe(true);
    await vi.waitFor(async () => expect(await store.listLeases('demo', 'vad')).toEqual([]));
  });
});

describe('IndexedDB schema migration', () => {
  it('carries version 2 records over to version 3 with an empty health state and a lease store', async () => {
    const name = 'migration-v2';
    const v2 = await openDB(name, 2, {
      upgrade(db) {
        db.createObjectStore('chunks', { keyPath: ['sha256', 'offset'] });
        db.createObjectStore('files', { keyPath: 'sha256' });
        db.createObjectStore('models');
        db.createObjectStore('apps', { keyPath: 'app' });
      },
    });
    await v2.put('models', { app: 'demo', model: 'vad', active: release('5.0.0', SHA_A, 3), previous: null, staged: null, updatedAt: 1 }, 'demo/vad');
    v2.close();
    const store = indexedDbStore({ name });
    expect(await store.getModel('demo', 'vad')).toMatchObject({ active: { version: '5.0.0' }, health: { trial: null, denied: [], measurements: [] } });
    expect(await store.listLeases('demo', 'vad')).toEqual([]);
  });

  it('carries version 1 files and active releases over to version 2', async () => {
    const name = 'migration-v1';
    const v1 = await openDB(name, 1, {
      upgrade(db) {
        db.createObjectStore('artifacts', { keyPath: 'sha256' });
        db.createObjectStore('active');
        db.createObjectStore('manifests', { keyPath: 'app' });
      },
    });
    await v1.put('artifacts', { sha256: SHA_A, length: 3, bytes: Uint8Array.of(7, 8, 9).buffer, storedAt: 1 });
    await v1.put('active', { app: 'demo', model: 'vad', release: release('5.0.0', SHA_A, 3), activatedAt: 1 }, 'demo/vad');
    v1.close();

    const store = indexedDbStore({ name });
    expect((await store.getModel('demo', 'vad')).active?.version).toBe('5.0.0');
    expect(new Uint8Array((await store.readFile(SHA_A))!)).toEqual(Uint8Array.of(7, 8, 9));
    expect(await store.getAppState('demo')).toBeNull();
  });
});
