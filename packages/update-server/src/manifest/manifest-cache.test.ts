import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinKeys, verifyManifestEnvelope } from '@edgeloop/protocol';
import { createTestServer, readJson, sileroV5, type TestServer } from '../test-support.js';

describe('manifest expiry', () => {
  let server: TestServer;
  let now = Date.now();
  beforeAll(async () => {
    server = await createTestServer({ manifestTtlMs: 60_000, now: () => now });
    const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', {
      method: 'POST',
      body: sileroV5,
      headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('re-issues a signed manifest under a higher version once half its lifetime has passed', async () => {
    const trust = await pinKeys([server.manifests.signer.key.publicKey]);
    const first = await verifyManifestEnvelope(await readJson(await server.app.request('/v1/apps/demo/manifest')), trust, new Date(now));
    expect(Date.parse(first.manifest.expires) - Date.parse(first.manifest.issuedAt)).toBe(60_000);

    now += 10_000; // still fresh: the same manifest
    const same = await server.app.request('/v1/apps/demo/manifest');
    expect((await verifyManifestEnvelope(await readJson(same), first.state, new Date(now))).manifest.version).toBe(first.manifest.version);

    now += 25_000; // past half-life: this poll still gets the valid one and triggers a re-issue
    await server.app.request('/v1/apps/demo/manifest');
    await expect.poll(async () => {
      const body = await readJson(await server.app.request('/v1/apps/demo/manifest'));
      return body.signed.version;
    }).toBeGreaterThan(first.manifest.version);
    const renewed = await verifyManifestEnvelope(await readJson(await server.app.request('/v1/apps/demo/manifest')), first.state, new Date(now));
    expect(renewed.expired).toBe(false);
    expect(renewed.manifest.models).toEqual(first.manifest.models);
  });
});
