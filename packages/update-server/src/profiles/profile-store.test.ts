import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinKeys, verifyManifestEnvelope, type Manifest } from '@edgeloop/protocol';
import { ReferenceProfile, seededRng } from '@edgeloop/telemetry';
import { fsBlobStore } from '../blobs/fs-blob-store.js';
import { collectGarbage } from '../registry/gc.js';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from '../test-support.js';

let server: TestServer;
const rng = seededRng(11);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const profileOf = (id: string) => ReferenceProfile.fromSamples({ id, numeric: [{ name: 'rms', values: Array.from({ length: 1000 }, () => rng.next()) }] });
const admin = (path: string, init: RequestInit = {}) =>
  server.app.request(`/v1/admin/apps/demo/models/vad${path}`, { ...init, headers: { 'Content-Type': 'application/json', ...server.auth(), ...(init.headers as Record<string, string>) } });
const putProfile = (version: string, profile: unknown) => admin(`/versions/${version}/profile`, { method: 'PUT', body: JSON.stringify({ profile }) });
const manifest = async (): Promise<Manifest> => {
  const envelope = await readJson(await server.app.request('/v1/apps/demo/manifest'));
  return (await verifyManifestEnvelope(envelope, await pinKeys([server.manifests.signer.key.publicKey]), new Date(), { app: 'demo' })).manifest;
};

beforeAll(async () => {
  server = await createTestServer();
  for (const [version, bytes] of [['5.0.0', sileroV5], ['6.0.0', sileroV6]] as const) {
    expect((await server.app.request(`/v1/admin/apps/demo/models/vad/versions/${version}`, { method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream', ...server.auth() } })).status).toBe(201);
  }
});
afterAll(() => server.dispose());

describe('signed reference profiles', () => {
  it('stores a profile content-addressed and signs its hash into the release of the version, bumping the manifest', async () => {
    const before = await manifest();
    expect(before.models.vad).not.toHaveProperty('profile');
    const profile = profileOf('vad@5/ref1');
    const res = await putProfile('5.0.0', profile.toJSON());
    expect(res.status).toBe(200);
    const stored = await readJson(res);
    const after = await manifest();
    expect(after.version).toBeGreaterThan(before.version);
    expect(after.models.vad!.profile).toEqual(stored.profile);
    expect(stored.profile).toMatchObject({ id: 'vad@5/ref1', url: `v1/artifacts/sha256/${stored.profile.sha256}` });
    // The bytes at the signed url are the profile, and hash to what was signed.
    const served = await server.app.request(`/${stored.profile.url}`);
    expect(served.status).toBe(200);
    expect(served.headers.get('cache-control')).toMatch(/immutable/);
    const bytes = new Uint8Array(await served.arrayBuffer());
    expect(sha256(bytes)).toBe(stored.profile.sha256);
    expect(bytes.byteLength).toBe(stored.profile.length);
    expect(ReferenceProfile.fromJSON(JSON.parse(new TextDecoder().decode(bytes))).toJSON()).toEqual(profile.toJSON());
  });

  it('gives a newer version without a profile its predecessor’s, so both arms of a rollout share one', async () => {
    const started = await server.app.request('/v1/admin/apps/demo/rollouts', {
      method: 'POST', body: JSON.stringify({ model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 10 }, { percentage: 50 }] }),
      headers: { 'Content-Type': 'application/json', ...server.auth() },
    });
    expect(started.status).toBe(201);
    const vad = (await manifest()).models.vad!;
    expect(vad.rollout).toMatchObject({ step: 0, candidate: { version: '6.0.0', profile: vad.profile } });
    expect(await readJson(await admin('/versions/6.0.0/profile'))).toMatchObject({ profile: vad.profile, inheritedFrom: '5.0.0' });
    expect(await readJson(await admin('/versions/5.0.0/profile'))).toMatchObject({ profile: vad.profile, inheritedFrom: null });
    // A profile of its own replaces the inherited one on the candidate only.
    expect((await putProfile('6.0.0', profileOf('vad@6/ref1').toJSON())).status).toBe(200);
    const next = (await manifest()).models.vad!;
    expect(next.profile).toEqual(vad.profile);
    expect(next.rollout!.candidate.profile).toMatchObject({ id: 'vad@6/ref1' });
    await server.app.request(`/v1/admin/apps/demo/rollouts/${(await readJson(started)).id}/abort`, { method: 'POST', headers: server.auth() });
  });

  it('refuses a different profile under an id already used, an id with control characters, and an unpublished version', async () => {
    const taken = await putProfile('6.0.0', profileOf('vad@5/ref1').toJSON());
    expect(taken.status).toBe(409);
    expect((await readJson(taken)).error.message).toMatch(/profile id "vad@5\/ref1" already names a different profile \(vad@5\.0\.0\); give the new profile a new id/);
    const nul = await putProfile('6.0.0', profileOf('vad\u0000evil').toJSON());
    expect(nul.status).toBe(400);
    expect((await readJson(nul)).error.message).toMatch(/profile id must be 1–256 printable characters/);
    expect((await putProfile('9.9.9', profileOf('vad@9/ref1').toJSON())).status).toBe(404);
    expect((await admin('/versions/9.9.9/profile')).status).toBe(404);
  });

  it('no longer serves profiles unsigned: the old device route answers 410 and says where they went', async () => {
    const res = await server.app.request('/v1/apps/demo/models/vad/versions/5.0.0/profile');
    expect(res.status).toBe(410);
    expect((await readJson(res)).error).toMatchObject({ code: 'gone', message: expect.stringMatching(/signed manifest lists each release's profile/) });
  });

  it('keeps profile bytes through garbage collection', async () => {
    const { profile } = await readJson(await admin('/versions/5.0.0/profile'));
    await collectGarbage(server.db, fsBlobStore(server.artifactsDir), { graceMs: 0, now: new Date(Date.now() + 1000) });
    expect((await server.app.request(`/${profile.url}`)).status).toBe(200);
  });
});
