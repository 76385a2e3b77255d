import 'fake-indexeddb/auto';
import { mkdtempSync } from 'node:fs';
import { rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDB } from 'idb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RuntimeError } from '../errors.js';
import { tensor } from '../engine/tensor.js';
import { createRuntime, type RuntimeOptions } from '../runtime.js';
import { fileSystemStore } from '../storage/filesystem-store.js';
import { indexedDbStore } from '../storage/indexeddb-store.js';
import { KEEP_PARTIAL_MS, type ModelStore } from '../storage/model-store.js';
import { fakeKey, FakeRepository, rotationStatement } from '../testing/fake-repository.js';
import { RecordingHost } from '../testing/recording-host.js';
import { memoryIds } from '../rollout/index.js';
import { CHUNK_BYTES } from './download.js';

/**
 * Delivery conformance, in the spirit of tuf-conformance: a mutable fake repository and a
 * controllable clock drive the real client; each case asserts what is stored, what is active and
 * what was requested. (Browser-only cases — a tab closed mid-write, forced quota errors — run in
 * Chromium: e2e/delivery.browser.test.ts.)
 */
const bytesOf = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const HOUR = 60 * 60 * 1000;
let dbCounter = 0;
// Element-wise toEqual on megabytes is slow; Buffer.equals compares with memcmp.
const sameBytes = (a: Uint8Array | undefined, b: Uint8Array) => a !== undefined && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const cacheRoot = mkdtempSync(join(tmpdir(), 'edgeloop-conformance-'));

/** The same suite runs against every store: they share one contract. */
const stores: Array<{ kind: string; open(id: string): ModelStore; wipe(id: string): Promise<void>; loseBytes(id: string, sha256: string): Promise<void> }> = [
  {
    kind: 'IndexedDB',
    open: (id) => indexedDbStore({ name: id }),
    wipe: (id) =>
      new Promise((resolve) => {
        const request = indexedDB.deleteDatabase(id);
        request.onsuccess = request.onerror = request.onblocked = () => resolve();
      }),
    // The chunks go, the file record stays (storage partly evicted or damaged).
    loseBytes: async (id, sha256) => {
      const db = await openDB(id);
      await db.delete('chunks', IDBKeyRange.bound([sha256, 0], [sha256, Number.MAX_SAFE_INTEGER]));
      db.close();
    },
  },
  {
    kind: 'filesystem',
    open: (id) => fileSystemStore({ directory: join(cacheRoot, id) }),
    wipe: (id) => rm(join(cacheRoot, id), { recursive: true, force: true }),
    // The file stays where a complete file is kept, its bytes do not.
    loseBytes: (id, sha256) => truncate(join(cacheRoot, id, 'files', sha256), 0),
  },
];

describe.each(stores)('delivery conformance ($kind store)', ({ open, wipe, loseBytes }) => {
  let repo: FakeRepository;
  let host: RecordingHost;
  let dbName: string;
  let now: number;
  const store = () => open(dbName);
  const runtimeFor = (overrides: Partial<RuntimeOptions> = {}) =>
    createRuntime({
      serverUrl: repo.url,
      app: 'demo',
      host,
      storage: store(),
      trust: { publicKeys: [repo.key.publicKey] },
      now: () => now,
      ...overrides,
    });
  const active = async () => (await store().getModel('demo', 'vad')).active?.version ?? null;
  const artifactRequests = () => repo.requestsTo('/artifacts/').length;

  beforeEach(async () => {
    now = Date.parse('2026-11-25T12:00:00Z');
    repo = await FakeRepository.create('demo', now);
    await repo.start();
    host = new RecordingHost();
    dbName = `conformance-${++dbCounter}`;
  });
  afterEach(async () => {
    await repo.stop();
  });

  describe('manifest trust', () => {
    it('refuses a rollback to a lower manifest version and keeps running the active release', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      repo.publish('vad', '6.0.0', bytesOf('six')); // manifest version 3
      await runtimeFor().load('vad');
      expect(await active()).toBe('6.0.0');

      const six = repo.manifest;
      repo.bump({ version: 2, models: { vad: { ...six.models.vad!, version: '5.0.0' } } });
      const requestsBefore = artifactRequests();
      const model = await runtimeFor().load('vad');
      expect(model).toMatchObject({ version: '6.0.0', source: 'cache' });
      expect(model.delivery).toMatchObject({ manifest: 'rejected', problem: { code: 'untrusted', details: { reason: 'rollback' } } });
      expect(await active()).toBe('6.0.0');
      expect(artifactRequests()).toBe(requestsBefore);
    });

    it('refuses the same version with different content', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      const version = repo.manifest.version;
      repo.publish('vad', '6.0.0', bytesOf('six'));
      repo.manifest = { ...repo.manifest, version };
      const model = await runtimeFor().load('vad');
      expect(model.version).toBe('5.0.0');
      expect(model.delivery.problem).toMatchObject({ details: { reason: 'version_reuse' } });
      expect(repo.requestsTo('/artifacts/').filter((r) => r.status === 200)).toHaveLength(1);
    });

    it('freezes on an expired manifest: keeps the cached release, reports it stale, downloads nothing', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      repo.publish('vad', '6.0.0', bytesOf('six'));
      now += 25 * HOUR; // the server stopped re-issuing: its manifest expired an hour ago
      const stale: unknown[] = [];
      const runtime = runtimeFor();
      runtime.addEventListener('manifest-stale', (event) => stale.push(event.detail));
      const model = await runtime.load('vad');
      expect(model).toMatchObject({ version: '5.0.0', source: 'cache', delivery: { manifest: 'stale' } });
      expect(stale).toHaveLength(1);
      expect(await active()).toBe('5.0.0');
      expect(artifactRequests()).toBe(1);
    });

    it('updates fine from an expired local manifest to a fresh remote one', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      now += 48 * HOUR; // the stored manifest has long expired…
      repo.bump({ issuedAt: new Date(now).toISOString(), expires: new Date(now + 24 * HOUR).toISOString() }); // …the server re-issued
      repo.publish('vad', '6.0.0', bytesOf('six'));
      const model = await runtimeFor().load('vad');
      expect(model).toMatchObject({ version: '6.0.0', source: 'network', delivery: { manifest: 'current' } });
    });

    it('refuses a bad signature and an unknown key; with nothing cached it cannot run', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      repo.envelopeOverride = (envelope) => ({ ...envelope, signed: { ...envelope.signed, version: 99 } });
      await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'untrusted', message: expect.stringMatching(/does not verify/) });
      repo.envelopeOverride = undefined;
      repo.signer = await fakeKey();
      await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'untrusted', message: expect.stringMatching(/none of which this client trusts/) });
      expect(artifactRequests()).toBe(0);
      expect(await active()).toBeNull();
    });

    it('refuses a manifest over the size cap without reading it', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await expect(runtimeFor({ maxManifestBytes: 200 }).load('vad')).rejects.toMatchObject({
        code: 'untrusted',
        message: expect.stringMatching(/200-byte cap/),
      });
      expect(artifactRequests()).toBe(0);
    });

    it('refuses a manifest version above 2^53 − 1', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      repo.manifest = { ...repo.manifest, version: 2 ** 53 };
      await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'untrusted', message: expect.stringMatching(/version/) });
      expect(artifactRequests()).toBe(0);
    });

    it('refuses files mixed from two releases: a manifest naming another release\'s file no longer verifies', async () => {
      const five = repo.publishFiles('vad', '5.0.0', [{ role: 'model', bytes: bytesOf('five') }, { role: 'weights', bytes: bytesOf('five-weights') }]);
      const six = repo.publishFiles('vad', '6.0.0', [{ role: 'model', bytes: bytesOf('six') }, { role: 'weights', bytes: bytesOf('six-weights') }]);
      repo.envelopeOverride = (envelope) => {
        const signed = structuredClone(envelope.signed) as typeof repo.manifest;
        signed.models.vad!.files[1] = five.files[1]!;
        return { ...envelope, signed };
      };
      await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'untrusted' });
      repo.envelopeOverride = undefined;
      // Substituting bytes of the other release at this release's URL fails its hash instead.
      repo.files.set(`/${six.files[1]!.url}`, bytesOf('five-weights'));
      await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'integrity' });
      expect(await active()).toBeNull();
    });

    it('follows a key rotation signed by the old key, and refuses a broken chain', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      const original = repo.key;
      await runtimeFor().load('vad');
      const next = await fakeKey();
      repo.rotations = [await rotationStatement(original, next, 1)];
      repo.signer = next;
      repo.publish('vad', '6.0.0', bytesOf('six'));
      expect((await runtimeFor().load('vad')).version).toBe('6.0.0');
      // The retired key can no longer sign for this device.
      repo.signer = original;
      repo.rotations = [];
      repo.publish('vad', '7.0.0', bytesOf('seven'));
      expect((await runtimeFor().load('vad')).delivery.problem).toMatchObject({ details: { reason: 'unknown_key' } });

      // A fresh device pinned to the original key, shown a chain forged by an attacker:
      const attacker = await fakeKey();
      repo.rotations = [await rotationStatement(original, attacker, 1, attacker)];
      repo.signer = attacker;
      dbName = `conformance-${++dbCounter}`;
      await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'untrusted', message: expect.stringMatching(/not validly signed by the key it retires/) });
    });

    it('pins the first signer on trust-on-first-use, then refuses other keys', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      expect((await runtimeFor({ trust: { trustOnFirstUse: true } }).load('vad')).version).toBe('5.0.0');
      repo.signer = await fakeKey();
      repo.publish('vad', '6.0.0', bytesOf('six'));
      const model = await runtimeFor({ trust: { trustOnFirstUse: true } }).load('vad');
      expect(model.version).toBe('5.0.0');
      expect(model.delivery.problem).toMatchObject({ details: { reason: 'unknown_key' } });
    });
  });

  describe('trust: apps, pins, fast-forward recovery, malformed envelopes', () => {
    it('refuses another app\'s manifest signed by the same key, and still accepts its own app\'s next release', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      const genuine = repo.manifest;
      // App "other"'s manifest (same server key, a far higher version) served at app "demo"'s URL:
      repo.servedAt = 'demo';
      repo.manifest = { ...genuine, app: 'other', version: 1_000 };
      repo.publish('vad', '9.9.9', bytesOf('other app'));
      const fooled = await runtimeFor().load('vad');
      expect(fooled).toMatchObject({ version: '5.0.0', source: 'cache', delivery: { manifest: 'rejected', problem: { code: 'untrusted', details: { reason: 'wrong_app' } } } });
      // Nothing of the other app's was downloaded, and its version did not ratchet this device.
      expect(repo.requestsTo('/artifacts/').filter((r) => r.path.includes(repo.manifest.models.vad!.files[0]!.sha256))).toHaveLength(0);
      repo.manifest = genuine;
      repo.publish('vad', '6.0.0', bytesOf('six'));
      expect(await runtimeFor().load('vad')).toMatchObject({ version: '6.0.0', delivery: { manifest: 'current' } });
    });

    it('applies a change of pinned keys at once: a manifest by an unpinned key is rejected, not confirmed by a 304', async () => {
      const second = await fakeKey();
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor({ trust: { publicKeys: [repo.key.publicKey, second.publicKey] } }).load('vad');
      // The app drops the key the server signs with (e.g. it leaked) and pins the other one.
      const model = await runtimeFor({ trust: { publicKeys: [second.publicKey] } }).load('vad');
      expect(model).toMatchObject({ version: '5.0.0', source: 'cache', delivery: { manifest: 'rejected', problem: { details: { reason: 'unknown_key' } } } });
      expect(repo.requestsTo('/manifest').at(-1)!.headers['if-none-match']).toBeUndefined();
      // The server now signs with the pinned key: accepted.
      repo.signer = second;
      repo.publish('vad', '6.0.0', bytesOf('six'));
      expect(await runtimeFor({ trust: { publicKeys: [second.publicKey] } }).load('vad')).toMatchObject({ version: '6.0.0', delivery: { manifest: 'current' } });
    });

    it('recovers from a stolen key that signed version 2^53 − 1 once the server rotates away from it', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      const genuine = repo.manifest;
      // The thief serves a manifest signed with the stolen (pinned) key at the largest version there is.
      repo.bump({ version: Number.MAX_SAFE_INTEGER });
      repo.publish('vad', '6.6.6', bytesOf('evil'));
      repo.manifest = { ...repo.manifest, version: Number.MAX_SAFE_INTEGER };
      expect((await runtimeFor().load('vad')).version).toBe('6.6.6');
      // The operator rotates the key; the genuine server's next manifest is signed by the new key.
      const next = await fakeKey();
      repo.rotations = [await rotationStatement(repo.key, next, 1)];
      repo.signer = next;
      repo.manifest = { ...genuine, version: genuine.version + 1 };
      repo.publish('vad', '7.0.0', bytesOf('seven'));
      expect(await runtimeFor().load('vad')).toMatchObject({ version: '7.0.0', delivery: { manifest: 'current' } });
    });

    it('runs the cached release when the envelope cannot be decoded (bad base64, a non-finite number)', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      repo.publish('vad', '6.0.0', bytesOf('six'));
      repo.envelopeOverride = (envelope) => ({ ...envelope, signatures: [{ ...envelope.signatures[0]!, sig: 'abcde' }] });
      const badBase64 = await runtimeFor().load('vad');
      expect(badBase64).toMatchObject({ version: '5.0.0', source: 'cache', delivery: { manifest: 'rejected', problem: { code: 'untrusted', details: { reason: 'malformed' } } } });
      repo.envelopeOverride = undefined;
      repo.bodyOverride = (text) => text.replace(/"version":(\d+)/, '"version":1e400');
      const nonFinite = await runtimeFor().load('vad');
      expect(nonFinite).toMatchObject({ version: '5.0.0', source: 'cache', delivery: { manifest: 'rejected', problem: { details: { reason: 'malformed' } } } });
      expect(nonFinite.delivery.problem?.message).toMatch(/malformed/);
    });
  });

  describe('downloads', () => {
    it('refuses bytes substituted at the same URL and stores nothing', async () => {
      const release = repo.publish('vad', '5.0.0', bytesOf('five'));
      repo.files.set(`/${release.files[0]!.url}`, bytesOf('f1ve'));
      await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'integrity' });
      expect(await store().getFile(release.files[0]!.sha256)).toBeNull();
      expect(await store().usage()).toBe(0);
    });

    it('stops a server streaming past the stated length (no Content-Length) and stores nothing', async () => {
      const release = repo.publish('vad', '5.0.0', randomBytes(3 * CHUNK_BYTES, 1));
      const path = `/${release.files[0]!.url}`;
      repo.files.set(path, randomBytes(5 * CHUNK_BYTES, 1));
      repo.chunked.add(path);
      await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/sent more than the 3145728 bytes/) });
      expect(await store().usage()).toBe(0);
      expect(await active()).toBeNull();
    });

    it('resumes a connection dropped at 50% with only the missing bytes, byte-identical', async () => {
      const model = randomBytes(4 * CHUNK_BYTES + 12345, 7);
      const release = repo.publish('vad', '5.0.0', model);
      const path = `/${release.files[0]!.url}`;
      repo.dropAfter.set(path, Math.floor(model.byteLength / 2));
      const loaded = await runtimeFor().load('vad');
      expect(loaded.source).toBe('network');
      const requests = repo.requestsTo('/artifacts/');
      expect(requests).toHaveLength(2);
      expect(requests[1]!.headers.range).toMatch(/^bytes=\d+-$/);
      expect(requests[1]!.headers['if-range']).toBe(`"${release.files[0]!.sha256}"`);
      expect(repo.bytesSentTo('/artifacts/') / model.byteLength).toBeLessThanOrEqual(1.05);
      expect(sameBytes(host.created[0], model)).toBe(true);
    });

    it('restarts from zero when the ETag changed between attempts', async () => {
      const model = randomBytes(3 * CHUNK_BYTES, 9);
      const release = repo.publish('vad', '5.0.0', model);
      const path = `/${release.files[0]!.url}`;
      repo.dropAfter.set(path, 2 * CHUNK_BYTES);
      const load = runtimeFor().load('vad');
      // The file is republished under a new validator after the first response, before the resume.
      await expect.poll(() => repo.requestsTo('/artifacts/').length, { interval: 5 }).toBe(1);
      repo.etags.set(path, '"republished"');
      await load;
      const [first, second] = repo.requestsTo('/artifacts/');
      expect(second!.headers['if-range']).toBe(`"${release.files[0]!.sha256}"`);
      expect(second!.status).toBe(200);
      expect(second!.bytesSent).toBe(model.byteLength);
      expect(first!.bytesSent).toBe(2 * CHUNK_BYTES);
      expect(sameBytes(host.created[0], model)).toBe(true);
    });

    it('is cancellable, keeps the stored prefix, and resumes from it on the next load', async () => {
      const model = randomBytes(4 * CHUNK_BYTES, 11);
      const release = repo.publish('vad', '5.0.0', model);
      const path = `/${release.files[0]!.url}`;
      const controller = new AbortController();
      repo.dropAfter.set(path, 2 * CHUNK_BYTES + 10);
      const progress: number[] = [];
      const load = runtimeFor().load('vad', {
        signal: controller.signal,
        onProgress: (p) => {
          progress.push(p.loaded);
          if (p.loaded >= 2 * CHUNK_BYTES) controller.abort();
        },
      });
      await expect(load).rejects.toMatchObject({ code: 'aborted' });
      const partial = await store().getFile(release.files[0]!.sha256);
      expect(partial).toMatchObject({ complete: false });
      expect(partial!.received).toBeGreaterThanOrEqual(2 * CHUNK_BYTES);
      expect(await active()).toBeNull();

      const resumed: Array<{ loaded: number; fromCache: number; total: number }> = [];
      await runtimeFor().load('vad', { onProgress: (p) => resumed.push(p) });
      expect(resumed.at(-1)).toEqual(expect.objectContaining({ loaded: model.byteLength, total: model.byteLength, fromCache: partial!.received }));
      expect(repo.requestsTo('/artifacts/').at(-1)!.headers.range).toBe(`bytes=${partial!.received}-`);
      expect(sameBytes(host.created[0], model)).toBe(true);
      expect(progress.length).toBeGreaterThan(0);
    });
  });

  // What a browser does by default for files up to 16 MiB (here forced on: Node has no HTTP cache,
  // so the browser-only part, a cut connection resumed by the cache, is in e2e/delivery.browser).
  describe('whole-file downloads', () => {
    const whole = { wholeFileMaxBytes: 16 * 1024 * 1024 };

    it('fetches the file in one request, verifies it and stores it complete', async () => {
      const model = randomBytes(3 * CHUNK_BYTES + 17, 21);
      const release = repo.publish('vad', '5.0.0', model);
      const progress: Array<{ loaded: number; total: number }> = [];
      const loaded = await runtimeFor(whole).load('vad', { onProgress: (p) => progress.push(p) });
      expect(loaded.source).toBe('network');
      expect(repo.requestsTo('/artifacts/')).toHaveLength(1);
      expect(await store().getFile(release.files[0]!.sha256)).toMatchObject({ complete: true, received: model.byteLength });
      const stored = await store().readFile(release.files[0]!.sha256);
      expect(stored && sameBytes(new Uint8Array(stored), model)).toBe(true);
      expect(sameBytes(host.created[0], model)).toBe(true);
      expect(progress.map((p) => p.loaded)).toEqual([0, model.byteLength]);
      expect(await active()).toBe('5.0.0');
    });

    it('refuses substituted bytes after one more try around the HTTP cache, and stores nothing', async () => {
      const release = repo.publish('vad', '5.0.0', bytesOf('five'));
      repo.files.set(`/${release.files[0]!.url}`, bytesOf('f1ve'));
      await expect(runtimeFor(whole).load('vad')).rejects.toMatchObject({ code: 'integrity' });
      expect(repo.requestsTo('/artifacts/')).toHaveLength(2);
      expect(await store().usage()).toBe(0);
    });

    it('streams instead when the length is not announced, and still stops past the stated length', async () => {
      const release = repo.publish('vad', '5.0.0', randomBytes(2 * CHUNK_BYTES, 3));
      const path = `/${release.files[0]!.url}`;
      repo.files.set(path, randomBytes(4 * CHUNK_BYTES, 3));
      repo.chunked.add(path);
      await expect(runtimeFor(whole).load('vad')).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/sent more than the 2097152 bytes/) });
      expect(await store().usage()).toBe(0);
    });

    it('is cancellable: the whole-file request is aborted and nothing is stored', async () => {
      const release = repo.publish('vad', '5.0.0', randomBytes(3 * CHUNK_BYTES, 17));
      const controller = new AbortController();
      const load = runtimeFor(whole).load('vad', { signal: controller.signal, onProgress: () => controller.abort() });
      await expect(load).rejects.toMatchObject({ code: 'aborted' });
      expect(await store().getFile(release.files[0]!.sha256)).toBeNull();
      expect(await active()).toBeNull();
      await runtimeFor(whole).load('vad');
      expect(await active()).toBe('5.0.0');
    });

    it('retries a dropped connection and ends with the right bytes', async () => {
      const model = randomBytes(2 * CHUNK_BYTES + 5, 13);
      const release = repo.publish('vad', '5.0.0', model);
      repo.dropAfter.set(`/${release.files[0]!.url}`, CHUNK_BYTES);
      const loaded = await runtimeFor(whole).load('vad');
      expect(loaded.source).toBe('network');
      expect(repo.requestsTo('/artifacts/')).toHaveLength(2);
      expect(sameBytes(host.created[0], model)).toBe(true);
      expect(await active()).toBe('5.0.0');
    });
  });

  describe('channels', () => {
    it('asks for its channel and refuses a manifest signed for another one', async () => {
      repo.publish('vad', '6.0.0', bytesOf('six'));
      repo.bump({ channel: 'beta' });
      const model = await runtimeFor({ channel: 'beta' }).load('vad');
      expect(model.version).toBe('6.0.0');
      expect(repo.requestsTo('/manifest').at(-1)!.query).toBe('channel=beta');
      // A stable device handed the beta manifest (a misrouted or malicious answer):
      dbName = `${dbName}-stable`;
      await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'untrusted', message: expect.stringMatching(/for channel "beta", this device follows "stable"/) });
    });
  });

  describe('staged rollouts', () => {
    it('puts a sticky share of devices on the candidate, reports the cohort, and moves them back on rollback', async () => {
      const control = repo.publish('vad', '5.0.0', bytesOf('five'));
      const candidateBytes = bytesOf('six');
      const candidate = repo.publish('vad', '6.0.0', candidateBytes);
      // The signed plan names its step; the device reports it with its arm (the server checks each step's share).
      const rollout = (percentage: number, step: number) => ({
        ...control,
        rollout: { id: 'r1', salt: 'salt-1', percentage, step, candidate: { version: '6.0.0', releaseId: candidate.releaseId, format: 'onnx' as const, files: candidate.files } },
      });
      repo.bump({ models: { vad: rollout(30, 1) } });
      const devices = Array.from({ length: 40 }, (_, i) => ({ ids: memoryIds(), db: `${dbName}-device-${i}` }));
      const versionsAt = async (step: number | null) => {
        const versions: string[] = [];
        for (const device of devices) {
          dbName = device.db;
          const model = await runtimeFor({ rollout: { ids: device.ids } }).load('vad');
          expect(model.delivery.cohort).toEqual(step !== null ? { rollout: 'r1', arm: model.version === '6.0.0' ? 'candidate' : 'control', step } : null);
          versions.push(model.version);
        }
        return versions;
      };
      const at30 = await versionsAt(1);
      const onCandidate = at30.filter((v) => v === '6.0.0').length;
      expect(onCandidate).toBeGreaterThan(2);
      expect(onCandidate).toBeLessThan(30);
      repo.bump({ models: { vad: rollout(60, 2) } });
      const at60 = await versionsAt(2);
      // Raising the percentage never moves a device off the candidate.
      at30.forEach((version, i) => {
        if (version === '6.0.0') expect(at60[i]).toBe('6.0.0');
      });
      repo.bump({ models: { vad: control } }); // rolled back: the plan is gone, everyone on the control
      expect(new Set(await versionsAt(null))).toEqual(new Set(['5.0.0']));
    });
  });

  describe('storage and activation', () => {
    it('keeps the last committed release as rollback target and collects older files', async () => {
      const five = repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      const six = repo.publish('vad', '6.0.0', bytesOf('six'));
      repo.bump({ models: { vad: { ...six, health: { inferences: 1 } } } });
      const trial = await runtimeFor().load('vad');
      expect(trial.health).toMatchObject({ state: 'trial', version: '6.0.0', needed: 1 });
      await trial.run({ x: tensor('float32', Float32Array.of(1), [1]) });
      await vi.waitFor(() => expect(trial.health.state).toBe('committed'));
      repo.publish('vad', '7.0.0', bytesOf('seven'));
      await runtimeFor().load('vad');
      const pointers = await store().getModel('demo', 'vad');
      expect([pointers.active?.version, pointers.previous?.version, pointers.health.trial?.version]).toEqual(['7.0.0', '6.0.0', '7.0.0']);
      expect(await store().collect()).toEqual({ freedBytes: 4, removedFiles: 1 });
      expect(await store().getFile(five.files[0]!.sha256)).toBeNull();
    });

    it('sweeps once after the first load: abandoned partial downloads go; recent ones and complete files stay', async () => {
      const [abandoned, recent] = ['e'.repeat(64), 'd'.repeat(64)];
      vi.useFakeTimers({ toFake: ['Date'] });
      try {
        vi.setSystemTime(Date.now() - KEEP_PARTIAL_MS - 60_000);
        await store().appendFile({ sha256: abandoned, length: 8, etag: '"e"' }, 0, bytesOf('old'));
      } finally {
        vi.useRealTimers();
      }
      await store().appendFile({ sha256: recent, length: 8, etag: '"d"' }, 0, bytesOf('new'));
      repo.publish('vad', '5.0.0', bytesOf('five'));
      const runtime = runtimeFor();
      const cleaned: unknown[] = [];
      const swept = new Promise((resolve) =>
        runtime.addEventListener('storage-cleaned', (event) => {
          cleaned.push(event.detail);
          resolve(event.detail);
        }),
      );
      await runtime.load('vad');
      expect(await swept).toEqual({ freedBytes: 3, removedFiles: 1 });
      expect(await store().getFile(abandoned)).toBeNull();
      expect(await store().getFile(recent)).toMatchObject({ received: 3, complete: false });
      expect(await active()).toBe('5.0.0');
      await runtime.load('vad');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(cleaned).toHaveLength(1);
    });

    it('runs offline after install', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      await repo.stop();
      expect(await runtimeFor().load('vad')).toMatchObject({ version: '5.0.0', source: 'cache', delivery: { manifest: 'offline' } });
    });

    it('notices wiped storage and downloads again instead of failing', async () => {
      const release = repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      // Evicted bytes, surviving pointer (a partial wipe):
      await store().deleteFile(release.files[0]!.sha256);
      expect(await runtimeFor().load('vad')).toMatchObject({ version: '5.0.0', source: 'network' });
      // Everything gone (cleared site data):
      await wipe(dbName);
      expect(await runtimeFor().load('vad')).toMatchObject({ version: '5.0.0', source: 'network' });
    });

    it('downloads a release again when its records survived but its bytes did not', async () => {
      const release = repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      await loseBytes(dbName, release.files[0]!.sha256);
      expect(await runtimeFor().load('vad')).toMatchObject({ version: '5.0.0', source: 'network' });
      expect(await runtimeFor().load('vad')).toMatchObject({ version: '5.0.0', source: 'cache' });
    });

    it('never lets a partial or complete file that cannot be read back (a crash mid-write) block a load', async () => {
      const model = randomBytes(3 * CHUNK_BYTES, 5);
      const release = repo.publish('vad', '5.0.0', model);
      repo.dropAfter.set(`/${release.files[0]!.url}`, CHUNK_BYTES + 10);
      const controller = new AbortController();
      await expect(runtimeFor().load('vad', { signal: controller.signal, onProgress: (p) => p.loaded >= CHUNK_BYTES && controller.abort() })).rejects.toMatchObject({ code: 'aborted' });
      expect(await store().getFile(release.files[0]!.sha256)).toMatchObject({ complete: false });
      // As after a renderer crash: the record is there, its bytes cannot be read (IndexedDB raises).
      const unreadable = (): ModelStore => {
        const inner = store();
        return {
          ...inner,
          readPartial: () => Promise.reject(new RuntimeError('storage', 'reading a partial file failed: NotReadableError')),
          readFile: () => Promise.reject(new RuntimeError('storage', 'reading a model file failed: NotReadableError')),
        };
      };
      expect(await runtimeFor({ storage: unreadable() }).load('vad')).toMatchObject({ version: '5.0.0', source: 'network' });
      expect(sameBytes(host.created.at(-1), model)).toBe(true);
      // A complete file that cannot be read is fetched again too.
      expect(await runtimeFor({ storage: unreadable() }).load('vad')).toMatchObject({ version: '5.0.0', source: 'network' });
      expect(await runtimeFor().load('vad')).toMatchObject({ version: '5.0.0', source: 'cache' });
    });

    it('drops a cached release no engine can read (bit rot behind a good pointer), fetches it again, and loses nothing else', async () => {
      const four = repo.publish('vad', '4.0.0', bytesOf('four'));
      await runtimeFor().load('vad');
      const five = repo.publish('vad', '5.0.0', bytesOf('five'));
      const pose = repo.publish('pose', '1.0.0', bytesOf('pose weights'));
      await runtimeFor().load('vad');
      await runtimeFor().load('pose');
      const [vadFile, poseFile] = [five.files[0]!, pose.files[0]!];
      // The stored bytes rot in place: same length, same sha256 key, no longer a model.
      const rotten = bytesOf('fivX');
      await store().deleteFile(vadFile.sha256);
      await store().appendFile({ sha256: vadFile.sha256, length: vadFile.length, etag: null }, 0, rotten);
      await store().completeFile(vadFile.sha256);
      host.unreadable.push(rotten);
      const requestsBefore = repo.requestsTo('/artifacts/').map((r) => r.path);

      const model = await runtimeFor().load('vad');
      expect(model).toMatchObject({ version: '5.0.0', source: 'network' });
      // The engine was really handed the rotten bytes first, then the refetched ones.
      expect(host.refused.map(decode)).toEqual(['fivX']);
      expect(decode(host.created.at(-1))).toBe('five');
      // Exactly the one file was fetched again.
      expect(repo.requestsTo('/artifacts/').map((r) => r.path).slice(requestsBefore.length)).toEqual([expect.stringContaining(vadFile.sha256)]);
      // The store holds the good copy under the same pointers; the rollback target and the other model are untouched.
      expect(decode(new Uint8Array((await store().readFile(vadFile.sha256))!))).toBe('five');
      const pointers = await store().getModel('demo', 'vad');
      expect([pointers.active?.releaseId, pointers.previous?.releaseId]).toEqual([five.releaseId, four.releaseId]);
      expect(decode(new Uint8Array((await store().readFile(four.files[0]!.sha256))!))).toBe('four');
      expect((await store().getModel('demo', 'pose')).active?.releaseId).toBe(pose.releaseId);
      expect(decode(new Uint8Array((await store().readFile(poseFile.sha256))!))).toBe('pose weights');
      // And the next start runs from the healed cache without the network.
      await repo.stop();
      expect(await runtimeFor().load('vad')).toMatchObject({ version: '5.0.0', source: 'cache' });
      expect(host.refused).toHaveLength(1);
    });

    it('with next-load activation, serves the cached release at once and stages the new one for the next load', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      await runtimeFor().load('vad');
      repo.publish('vad', '6.0.0', bytesOf('six'));
      const runtime = runtimeFor({ activation: 'next-load' });
      const ready = new Promise((resolve) => runtime.addEventListener('update-ready', (event) => resolve(event.detail)));
      const first = await runtime.load('vad');
      expect(first).toMatchObject({ version: '5.0.0', delivery: { updatePending: true } });
      expect(await ready).toMatchObject({ model: 'vad', version: '6.0.0' });
      expect((await store().getModel('demo', 'vad')).staged?.version).toBe('6.0.0');
      const next = await runtimeFor({ activation: 'next-load' }).load('vad');
      expect(next).toMatchObject({ version: '6.0.0', source: 'cache' });
      expect(decode(host.created.at(-1))).toBe('six');
    });

    it('backs off background checks exponentially while the server fails, and says why checkForUpdates failed', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      const runtime = runtimeFor({ updates: { intervalMs: 50, maxBackoffMs: 2_000 } });
      await runtime.load('vad');
      repo.manifestStatus = 503;
      await expect(runtime.checkForUpdates()).rejects.toMatchObject({ code: 'network', message: expect.stringMatching(/answered 503/) });
      const before = repo.requestsTo('/manifest').length;
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      runtime.dispose();
      // Every 50 ms would be ~32 checks; doubling from 50 ms (± 20% jitter) is at most 6 by 1.6 s.
      const checks = repo.requestsTo('/manifest').slice(before);
      expect(checks.length).toBeGreaterThanOrEqual(3);
      expect(checks.length).toBeLessThanOrEqual(6);
    });

    it('checkForUpdates prefetches loaded models and announces activations to other runtimes', async () => {
      repo.publish('vad', '5.0.0', bytesOf('five'));
      const runtime = runtimeFor();
      await runtime.load('vad');
      expect(await runtime.checkForUpdates()).toEqual([]);
      repo.publish('vad', '6.0.0', bytesOf('six'));
      expect(await runtime.checkForUpdates()).toEqual(['vad']);
      const other = runtimeFor();
      const heard = new Promise((resolve) => runtime.addEventListener('activated', (event) => resolve(event.detail)));
      expect((await other.load('vad')).version).toBe('6.0.0');
      expect(await heard).toMatchObject({ model: 'vad', version: '6.0.0', remote: true });
      runtime.dispose();
      other.dispose();
    });
  });
});
