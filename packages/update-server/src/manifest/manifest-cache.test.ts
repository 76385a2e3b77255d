import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pinKeys, verifyManifestEnvelope } from '@edgeloop/protocol';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from '../test-support.js';

/** Publishes demo/vad at `version` through the admin API. */
const publish = (server: TestServer, version: string, bytes: Uint8Array) =>
  server.app.request(`/v1/admin/apps/demo/models/vad/versions/${version}`, {
    method: 'POST',
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
  });

describe('manifest expiry', () => {
  let server: TestServer;
  let now = Date.now();
  beforeAll(async () => {
    server = await createTestServer({ manifestTtlMs: 60_000, now: () => now });
    expect((await publish(server, '5.0.0', sileroV5)).status).toBe(201);
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('re-issues a signed manifest under a higher version once half its lifetime has passed', async () => {
    const trust = await pinKeys([server.manifests.signer.key.publicKey]);
    const first = await verifyManifestEnvelope(await readJson(await server.app.request('/v1/apps/demo/manifest')), trust, new Date(now), { app: 'demo' });
    expect(Date.parse(first.manifest.expires) - Date.parse(first.manifest.issuedAt)).toBe(60_000);

    // Times are relative to the issue time the database recorded, not to when this file was loaded.
    now = Date.parse(first.manifest.issuedAt) + 10_000; // still fresh: the same manifest
    const same = await server.app.request('/v1/apps/demo/manifest');
    expect((await verifyManifestEnvelope(await readJson(same), first.state, new Date(now), { app: 'demo' })).manifest.version).toBe(first.manifest.version);

    now += 25_000; // 35 s of 60: past half-life, this poll still gets the valid one and triggers a re-issue
    await server.app.request('/v1/apps/demo/manifest');
    await expect.poll(async () => {
      const body = await readJson(await server.app.request('/v1/apps/demo/manifest'));
      return body.signed.version;
    }, { timeout: 10_000 }).toBeGreaterThan(first.manifest.version);
    const renewed = await verifyManifestEnvelope(await readJson(await server.app.request('/v1/apps/demo/manifest')), first.state, new Date(now), { app: 'demo' });
    expect(renewed.expired).toBe(false);
    expect(renewed.manifest.models).toEqual(first.manifest.models);
  });
});

describe('manifest route', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await createTestServer();
    expect((await publish(server, '5.0.0', sileroV5)).status).toBe(201);
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('answers browsers with CORS headers on 200 and 304, and preflights for If-None-Match', async () => {
    const first = await server.app.request('/v1/apps/demo/manifest', { headers: { Origin: 'https://app.example' } });
    expect(first.status).toBe(200);
    expect(first.headers.get('access-control-allow-origin')).toBe('*');
    expect(first.headers.get('access-control-expose-headers')).toBe('ETag');
    const etag = first.headers.get('etag')!;
    const again = await server.app.request('/v1/apps/demo/manifest', { headers: { Origin: 'https://app.example', 'If-None-Match': etag } });
    expect(again.status).toBe(304);
    expect(again.headers.get('access-control-allow-origin')).toBe('*');
    const preflight = await server.app.request('/v1/apps/demo/manifest', {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'if-none-match' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('if-none-match');
  });

  it('answers an unknown app with 404 and a malformed name with 400', async () => {
    expect((await server.app.request('/v1/apps/nope/manifest')).status).toBe(404);
    expect((await server.app.request('/v1/apps/Not%20An%20App/manifest')).status).toBe(400);
  });
});

describe('polls for an unknown app', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await createTestServer();
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('are answered 404 from memory, until the app is created', async () => {
    const lookups = vi.spyOn(server.registry, 'manifestState');
    expect((await server.app.request('/v1/apps/demo/manifest')).status).toBe(404);
    expect((await server.app.request('/v1/apps/demo/manifest')).status).toBe(404);
    expect(lookups).toHaveBeenCalledTimes(1);
    expect((await publish(server, '5.0.0', sileroV5)).status).toBe(201);
    expect((await server.app.request('/v1/apps/demo/manifest')).status).toBe(200);
  });
});

describe('channels', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await createTestServer();
    expect((await publish(server, '5.0.0', sileroV5)).status).toBe(201);
    expect((await publish(server, '6.0.0', sileroV6)).status).toBe(201);
    const beta = await server.app.request('/v1/admin/apps/demo/models/vad/channels/beta', {
      method: 'PUT',
      body: JSON.stringify({ version: '6.0.0' }),
      headers: { 'Content-Type': 'application/json', ...server.auth() },
    });
    expect(beta.status).toBe(200);
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('serves each channel its own signed manifest, naming the channel', async () => {
    const trust = await pinKeys([server.manifests.signer.key.publicKey]);
    const stable = await verifyManifestEnvelope(await readJson(await server.app.request('/v1/apps/demo/manifest')), trust, new Date(), { app: 'demo' });
    const beta = await verifyManifestEnvelope(await readJson(await server.app.request('/v1/apps/demo/manifest?channel=beta')), trust, new Date(), { app: 'demo', channel: 'beta' });
    expect(stable.manifest.channel).toBeUndefined();
    expect(stable.manifest.models.vad!.version).toBe('5.0.0');
    expect(beta.manifest).toMatchObject({ channel: 'beta', models: { vad: { version: '6.0.0' } } });
  });

  it('404s a channel nobody made and 400s a malformed one', async () => {
    const unknown = await server.app.request('/v1/apps/demo/manifest?channel=nightly');
    expect(unknown.status).toBe(404);
    expect((await readJson(unknown)).error.message).toMatch(/no channel "nightly"/);
    const malformed = await server.app.request('/v1/apps/demo/manifest?channel=Not%20OK');
    expect(malformed.status).toBe(400);
    expect((await readJson(malformed)).error.message).toMatch(/query parameter "channel"/);
  });
});

describe('polls for channels nobody made', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await createTestServer();
    expect((await publish(server, '5.0.0', sileroV5)).status).toBe(201);
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('are answered 404 from memory however many names are tried, until the channel is made', async () => {
    expect((await server.app.request('/v1/apps/demo/manifest')).status).toBe(200);
    const lookups = vi.spyOn(server.registry, 'manifestState');
    const channelQueries = vi.spyOn(server.registry, 'manifestModels');
    const channelLists = vi.spyOn(server.registry, 'manifestChannels');
    for (let i = 0; i < 200; i++) {
      const res = await server.app.request(`/v1/apps/demo/manifest?channel=made-up-${i}`);
      expect(res.status).toBe(404);
    }
    // What an honest poll costs must not depend on what others make up: none reached the database.
    expect(lookups).toHaveBeenCalledTimes(0);
    expect(channelQueries).toHaveBeenCalledTimes(0);
    expect(channelLists.mock.calls.length).toBeLessThanOrEqual(1); // the app's channel names, once
    const made = await server.app.request('/v1/admin/apps/demo/models/vad/channels/made-up-7', {
      method: 'PUT',
      body: JSON.stringify({ version: '5.0.0' }),
      headers: { 'Content-Type': 'application/json', ...server.auth() },
    });
    expect(made.status).toBe(200);
    expect((await server.app.request('/v1/apps/demo/manifest?channel=made-up-7')).status).toBe(200);
  });
});

describe('a manifest whose rebuild fails', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await createTestServer();
    expect((await publish(server, '5.0.0', sileroV5)).status).toBe(201);
    const beta = await server.app.request('/v1/admin/apps/demo/models/vad/channels/beta', {
      method: 'PUT',
      body: JSON.stringify({ version: '5.0.0' }),
      headers: { 'Content-Type': 'application/json', ...server.auth() },
    });
    expect(beta.status).toBe(200);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await server.dispose();
  });

  it('is still served from memory while the database is unreachable, and rebuilt once it is back', async () => {
    const first = await server.app.request('/v1/apps/demo/manifest');
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag');
    // Every instance is told to re-read everything after its LISTEN connection came back; the
    // database may still refuse queries for a moment (starting up, failing over).
    const down = Object.assign(new Error('the database system is starting up'), { code: '57P03' });
    const state = vi.spyOn(server.registry, 'manifestState').mockRejectedValue(down);
    server.manifests.invalidateAll();
    const during = await server.app.request('/v1/apps/demo/manifest');
    expect(during.status).toBe(200);
    expect(during.headers.get('etag')).toBe(etag);
    // A channel never built cannot be served: 503 with Retry-After, not a 500.
    const beta = await server.app.request('/v1/apps/demo/manifest?channel=beta');
    expect(beta.status).toBe(503);
    expect(beta.headers.get('retry-after')).toMatch(/^\d+$/);
    state.mockRestore();
    server.manifests.invalidate('demo');
    const after = await server.app.request('/v1/apps/demo/manifest');
    expect(after.status).toBe(200);
  });
});
