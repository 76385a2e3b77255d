import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinKeys, verifyManifestEnvelope, type Manifest } from '@edgeloop/protocol';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from './test-support.js';
import { deviceReport, lastPeriod, manifestConfig } from './testing/telemetry-devices.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
let server: TestServer;
const upload = (bytes: Uint8Array | string, contentType = 'application/octet-stream'): RequestInit => ({
  method: 'POST',
  body: bytes,
  headers: { 'Content-Type': contentType, ...server.auth() },
});
const admin = (path: string) => server.app.request(path, { headers: server.auth() });

describe('update server', () => {
  beforeAll(async () => {
    server = await createTestServer({ maxUploadBytes: 4 * 1024 * 1024 });
  });
  afterAll(async () => {
    await server.dispose();
  });

  describe('publish and manifest', () => {
    it('publishes a real ONNX model and records its signature', async () => {
      const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', upload(sileroV5));
      expect(res.status).toBe(201);
      const record = await readJson(res);
      expect(record).toMatchObject({ app: 'demo', model: 'vad', version: '5.0.0', seq: 1, format: 'onnx', sha256: sha256(sileroV5), size: sileroV5.byteLength });
      expect(record.signature.inputs.map((i: { name: string }) => i.name)).toEqual(['input', 'state', 'sr']);
      expect(await server.storedFiles()).toEqual([expect.stringMatching(new RegExp(`sha256/${sha256(sileroV5).slice(0, 2)}/${sha256(sileroV5)}$`))]);
    });

    const verify = async (response: Response): Promise<Manifest> => {
      const trust = await pinKeys([server.manifests.signer.key.publicKey]);
      return (await verifyManifestEnvelope(await readJson(response), trust, new Date(), { app: 'demo' })).manifest;
    };

    it('serves the newest version of each model in a signed manifest, from memory, with an ETag', async () => {
      const first = await server.app.request('/v1/apps/demo/manifest');
      expect(first.status).toBe(200);
      expect(first.headers.get('cache-control')).toBe('no-cache');
      const manifest = await verify(first);
      expect(Date.parse(manifest.expires) - Date.parse(manifest.issuedAt)).toBe(24 * 60 * 60 * 1000);
      expect(manifest.models.vad).toMatchObject({ version: '5.0.0', format: 'onnx' });
      expect(manifest.models.vad!.files[0]).toEqual({
        role: 'model',
        sha256: sha256(sileroV5),
        length: sileroV5.byteLength,
        url: `v1/artifacts/sha256/${sha256(sileroV5)}`,
      });
      const etag = first.headers.get('etag')!;
      const again = await server.app.request('/v1/apps/demo/manifest', { headers: { 'If-None-Match': etag } });
      expect(again.status).toBe(304);

      // A later version reaches devices only through a channel (here set at publish) or a rollout.
      const v6 = await server.app.request('/v1/admin/apps/demo/models/vad/versions/6.0.0?channel=stable', upload(sileroV6));
      expect(v6.status).toBe(201);
      const changed = await server.app.request('/v1/apps/demo/manifest', { headers: { 'If-None-Match': etag } });
      expect(changed.status).toBe(200);
      const next = await verify(changed);
      expect(next.version).toBeGreaterThan(manifest.version);
      expect(next.models.vad!.version).toBe('6.0.0');
    });

    it('serves the public key that signs manifests', async () => {
      const keys = await readJson(await server.app.request('/v1/keys'));
      expect(keys).toEqual({ keys: [server.manifests.signer.key], rotations: [] });
      expect(server.manifests.signer.key.publicKey).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    });

    it('lists versions newest first', async () => {
      const res = await admin('/v1/admin/apps/demo/models/vad');
      expect(res.status).toBe(200);
      expect((await readJson(res)).versions.map((v: { version: string }) => v.version)).toEqual(['6.0.0', '5.0.0']);
    });
  });

  describe('artifacts', () => {
    const url = () => `/v1/artifacts/sha256/${sha256(sileroV5)}`;

    it('serves the exact bytes with a strong ETag and an immutable cache header', async () => {
      const res = await server.app.request(url());
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBe(`"${sha256(sileroV5)}"`);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('content-length')).toBe(String(sileroV5.byteLength));
      expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(sileroV5));
    });

    it('answers a byte range with 206 and a matching If-None-Match with 304', async () => {
      const ranged = await server.app.request(url(), { headers: { Range: 'bytes=100-199' } });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get('content-range')).toBe(`bytes 100-199/${sileroV5.byteLength}`);
      expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(sileroV5.subarray(100, 200));
      const cached = await server.app.request(url(), { headers: { 'If-None-Match': `"${sha256(sileroV5)}"` } });
      expect(cached.status).toBe(304);
      const stale = await server.app.request(url(), { headers: { Range: 'bytes=100-199', 'If-Range': '"other"' } });
      expect(stale.status).toBe(200);
      await stale.arrayBuffer();
    });

    it('404s an unknown hash and 400s a malformed one', async () => {
      const missing = await server.app.request(`/v1/artifacts/sha256/${'0'.repeat(64)}`);
      expect(missing.status).toBe(404);
      const malformed = await server.app.request('/v1/artifacts/sha256/not-a-hash');
      expect(malformed.status).toBe(400);
      expect((await readJson(malformed)).error.message).toMatch(/64 lowercase hex digits/);
    });
  });

  describe('bad input loses nothing', () => {
    async function snapshot() {
      const manifest = await readJson(await server.app.request('/v1/apps/demo/manifest'));
      return { files: await server.storedFiles(), manifest: { ...manifest, issuedAt: undefined } };
    }

    it('refuses bytes that are not an ONNX model with 400 and stores nothing', async () => {
      const before = await snapshot();
      const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/7.0.0', upload('definitely not onnx'));
      expect(res.status).toBe(400);
      const body = await readJson(res);
      expect(body.error.code).toBe('invalid_model');
      expect(body.error.message).toMatch(/not an ONNX model/);
      expect(body.error).not.toHaveProperty('stack');
      expect(await snapshot()).toEqual(before);
      const versions = await readJson(await admin('/v1/admin/apps/demo/models/vad'));
      expect(versions.versions.map((v: { version: string }) => v.version)).not.toContain('7.0.0');
    });

    it('refuses an upload over the size limit with 413, also without Content-Length', async () => {
      const before = await snapshot();
      const big = new Uint8Array(5 * 1024 * 1024);
      const chunked = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 5; i++) controller.enqueue(big.subarray(i * 1024 * 1024, (i + 1) * 1024 * 1024));
          controller.close();
        },
      });
      const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/7.0.0', {
        method: 'POST',
        body: chunked,
        headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
      expect((await readJson(res)).error.message).toMatch(/limit of 4194304 bytes/);
      expect(await snapshot()).toEqual(before);
    });

    it('refuses a duplicate version label with 409', async () => {
      const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', upload(sileroV6));
      expect(res.status).toBe(409);
      expect((await readJson(res)).error.message).toMatch(/already has a version "5.0.0"/);
      const v = await readJson(await admin('/v1/admin/apps/demo/models/vad/versions/5.0.0'));
      expect(v.sha256).toBe(sha256(sileroV5));
    });

    it('refuses multipart uploads with 415 and says how to send the file', async () => {
      const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/7.0.0', upload(sileroV5, 'multipart/form-data; boundary=x'));
      expect(res.status).toBe(415);
      expect((await readJson(res)).error.message).toMatch(/--data-binary/);
    });

    it('404s unknown apps, models and versions', async () => {
      expect((await server.app.request('/v1/apps/nope/manifest')).status).toBe(404);
      const model = await admin('/v1/admin/apps/demo/models/nope');
      expect(model.status).toBe(404);
      expect((await readJson(model)).error.message).toMatch(/app "demo" has no model "nope"/);
      expect((await admin('/v1/admin/apps/demo/models/vad/versions/9.9.9')).status).toBe(404);
      expect((await admin('/v1/admin/apps/nope/models')).status).toBe(404);
      expect((await server.app.request('/v1/nowhere')).status).toBe(404);
    });

    it('400s names that do not fit URLs and keys', async () => {
      const res = await server.app.request('/v1/admin/apps/Demo!/models/vad/versions/1.0.0', upload(sileroV5));
      expect(res.status).toBe(400);
      expect((await readJson(res)).error.message).toMatch(/path parameter "app" must be/);
    });
  });

  describe('telemetry', () => {
    const post = (body: unknown, app = 'demo') =>
      server.app.request(`/v1/apps/${app}/telemetry`, {
        method: 'POST',
        body: typeof body === 'string' ? body : JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' },
      });
    const report = async () => {
      const config = manifestConfig(await readJson(await server.app.request('/v1/apps/demo/manifest')));
      return deviceReport({ config, period: lastPeriod(config, Date.now()), uses: [{ model: 'vad', version: '5.0.0' }] });
    };

    it('signs the telemetry config devices report under into the manifest, and takes a report made under it once', async () => {
      const first = await report();
      expect(first.config).toMatch(/^tc_[0-9a-f]{16}$/);
      expect((await post(first)).status).toBe(202);
      const replay = await post(first);
      expect(replay.status).toBe(202);
      expect(await readJson(replay)).toEqual({ accepted: false });
      // One report is far below the floor: the summary says so, and shows no number at all.
      const summary = await readJson(await admin('/v1/admin/apps/demo/telemetry/summary'));
      expect(summary).toEqual({ app: 'demo', minReports: 20, models: [], notice: 'fewer than 20 reports were released for any model version; nothing is shown below 20' });
    });

    it('rejects malformed reports with 400 naming the field', async () => {
      const good = await report();
      const bad = await post({ ...good, models: [{ ...good.models[0], health: { ...good.models[0]!.health, errored: 2 } }] });
      expect(bad.status).toBe(400);
      expect((await readJson(bad)).error.message).toMatch(/models\.0\.health\.errored/);
      expect((await post('{not json')).status).toBe(400);
      expect((await post({ ...good, app: 'other' })).status).toBe(400);
      expect((await post({ ...good, app: 'nope' }, 'nope')).status).toBe(404);
      expect((await post('x'.repeat(70 * 1024))).status).toBe(413);
    });
  });
});
