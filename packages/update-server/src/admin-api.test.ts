import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootstrapToken } from './auth/bootstrap.js';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from './test-support.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('admin API: tokens, scopes, audit, uploads', () => {
  let server: TestServer;
  const req = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token !== null) headers.set('Authorization', `Bearer ${token ?? server.adminToken}`);
    return server.app.request(path, { ...rest, headers });
  };
  const post = (path: string, body: unknown, token?: string) =>
    req(path, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' }, ...(token !== undefined && { token }) });
  const upload = (path: string, bytes: Uint8Array, headers: Record<string, string> = {}, token?: string) =>
    req(path, { method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream', ...headers }, ...(token !== undefined && { token }) });

  beforeAll(async () => {
    server = await createTestServer({ maxUploadBytes: 4 * 1024 * 1024 });
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/5.0.0?notes=first', sileroV5)).status).toBe(201);
  });
  afterAll(() => server.dispose());

  it('answers 401 for missing, malformed, unknown, expired and revoked tokens', async () => {
    expect((await req('/v1/admin/apps/demo/models', { token: null })).status).toBe(401);
    const malformed = await req('/v1/admin/apps/demo/models', { token: 'not-a-token' });
    expect(malformed.status).toBe(401);
    expect((await readJson(malformed)).error).toMatchObject({ code: 'unauthorized', message: expect.stringMatching(/elk_/) });
    expect((await req('/v1/admin/apps/demo/models', { token: `elk_${'A'.repeat(43)}` })).status).toBe(401);
    const expired = await bootstrapToken(server.db, { app: 'demo', expiresAt: new Date(Date.now() - 1000) });
    expect((await readJson(await req('/v1/admin/apps/demo/models', { token: expired.token }))).error.message).toMatch(/expired/);
    const revoked = await bootstrapToken(server.db, { app: 'demo' });
    expect((await req('/v1/admin/apps/demo/models', { token: revoked.token })).status).toBe(200);
    expect((await req(`/v1/admin/apps/demo/tokens/${revoked.info.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await readJson(await req('/v1/admin/apps/demo/models', { token: revoked.token }))).error.message).toMatch(/revoked/);
  });

  it('creates tokens shown once, stored as a hash, with scopes that limit what they can do', async () => {
    const res = await post('/v1/admin/apps/demo/tokens', { name: 'ci reader', scopes: ['read'], expiresInDays: 30 });
    expect(res.status).toBe(201);
    const created = await readJson(res);
    expect(created.token).toMatch(/^elk_[A-Za-z0-9_-]{43}$/);
    const rows = await server.db.query<{ token_hash: string }>('select token_hash from tokens where id = $1', [created.id]);
    expect(rows[0]!.token_hash).toBe(sha256(new TextEncoder().encode(created.token)));
    expect(JSON.stringify(await server.db.query('select * from tokens'))).not.toContain(created.token);
    const listed = await readJson(await req('/v1/admin/apps/demo/tokens'));
    expect(listed.tokens.find((t: { id: string }) => t.id === created.id)).not.toHaveProperty('token');

    expect((await req('/v1/admin/apps/demo/models', { token: created.token })).status).toBe(200);
    const denied = await upload('/v1/admin/apps/demo/models/vad/versions/9.0.0', sileroV6, {}, created.token);
    expect(denied.status).toBe(403);
    expect((await readJson(denied)).error.message).toMatch(/needs "publish"/);
    expect((await post('/v1/admin/apps/demo/tokens', { name: 'x', scopes: ['admin'] }, created.token)).status).toBe(403);
    const used = await readJson(await req('/v1/admin/apps/demo/tokens'));
    expect(used.tokens.find((t: { id: string }) => t.id === created.id).lastUsedAt).not.toBeNull();
  });

  it("hides app A from app B's token with 404", async () => {
    const other = await bootstrapToken(server.db, { app: 'other' });
    for (const path of ['/v1/admin/apps/demo/models', '/v1/admin/apps/demo/models/vad', '/v1/admin/apps/demo/audit', '/v1/admin/apps/demo/rollouts']) {
      const res = await req(path, { token: other.token });
      expect(res.status).toBe(404);
      expect((await readJson(res)).error.message).toBe('unknown app "demo"');
    }
    expect((await readJson(await req('/v1/admin/apps', { token: other.token }))).apps).toEqual([]);
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/9.0.0', sileroV6, {}, other.token)).status).toBe(404);
  });

  it('validates bodies with 400 naming the field', async () => {
    const res = await post('/v1/admin/apps/demo/tokens', { name: 'x', scopes: ['root'] });
    expect(res.status).toBe(400);
    expect((await readJson(res)).error.message).toMatch(/body field "scopes.0"/);
    const bad = await post('/v1/admin/apps/demo/rollouts', { model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 50 }, { percentage: 10 }] });
    expect((await readJson(bad)).error.message).toMatch(/"steps": percentages must increase/);
    const notJson = await req('/v1/admin/apps/demo/tokens', { method: 'POST', body: '{', headers: { 'Content-Type': 'application/json' } });
    expect(notJson.status).toBe(400);
  });

  it('makes uploads idempotent with Idempotency-Key and stores identical bytes once', async () => {
    const first = await upload('/v1/admin/apps/demo/models/vad/versions/6.0.0', sileroV6, { 'Idempotency-Key': 'k-1' });
    expect(first.status).toBe(201);
    const replay = await upload('/v1/admin/apps/demo/models/vad/versions/6.0.0', sileroV6, { 'Idempotency-Key': 'k-1' });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await readJson(replay)).toEqual(await readJson(first));
    const reused = await upload('/v1/admin/apps/demo/models/vad/versions/6.0.1', sileroV6, { 'Idempotency-Key': 'k-1' });
    expect(reused.status).toBe(409);
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/6.0.0', sileroV6)).status).toBe(409);
    // Same bytes under another label: a second version, one stored file.
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/6.0.0-copy', sileroV6)).status).toBe(201);
    expect((await server.storedFiles()).filter((f) => f.endsWith(sha256(sileroV6)))).toHaveLength(1);
  });

  it('adds variants with their own files and records signature, sizes, notes, publisher', async () => {
    const res = await upload('/v1/admin/apps/demo/models/vad/versions/6.0.0/variants/fp16/files/model?backend=webgpu&precision=fp16', sileroV5);
    expect(res.status).toBe(201);
    const version = await readJson(await req('/v1/admin/apps/demo/models/vad/versions/6.0.0'));
    expect(version.variants.map((v: { variant: string }) => v.variant)).toEqual(['default', 'fp16']);
    expect(version.variants[1]).toMatchObject({ backend: 'webgpu', precision: 'fp16', files: [{ role: 'model', sha256: sha256(sileroV5), size: sileroV5.byteLength }] });
    expect(version.variants[1].files[0].signature.inputs.map((i: { name: string }) => i.name)).toEqual(['input', 'state', 'sr']);
    expect(version.publisher).toMatch(/^tok_/);
    expect((await readJson(await req('/v1/admin/apps/demo/models/vad/versions/5.0.0'))).notes).toBe('first');
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/6.0.0/variants/fp16/files/model', sileroV5)).status).toBe(409);
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/8.8.8/variants/fp16/files/model', sileroV5)).status).toBe(404);
  });

  it('keeps an append-only audit log with actor, action, target, before/after and request id', async () => {
    const log = await readJson(await req('/v1/admin/apps/demo/audit?limit=500'));
    const actions = log.entries.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['version.publish', 'file.add', 'token.create', 'token.revoke']));
    const publish = log.entries.find((e: { action: string; target: string }) => e.action === 'version.publish' && e.target.startsWith('vad@6.0.0/'));
    expect(publish).toMatchObject({ actor: expect.stringMatching(/^tok_/), requestId: expect.any(String), after: { sha256: sha256(sileroV6) } });
    await expect(server.db.query('update audit_log set actor = $1', ['forged'])).rejects.toThrow(/append-only/);
    await expect(server.db.query('delete from audit_log')).rejects.toThrow(/append-only/);
  });

  it('garbage-collects artifacts no version references', async () => {
    const staged = await server.db.query<{ n: number }>('select count(*)::int as n from blobs');
    const orphan = new Uint8Array([1, 2, 3]);
    const blob = await (await import('./blobs/fs-blob-store.js')).fsBlobStore(server.artifactsDir).stage(new Blob([orphan]).stream(), { maxBytes: 10 });
    await blob.commit();
    const { collectGarbage } = await import('./registry/gc.js');
    const { fsBlobStore } = await import('./blobs/fs-blob-store.js');
    const young = await collectGarbage(server.db, fsBlobStore(server.artifactsDir), { graceMs: 60_000 });
    expect(young.deleted).toEqual([]);
    const res = await collectGarbage(server.db, fsBlobStore(server.artifactsDir), { graceMs: 0, now: new Date(Date.now() + 1000) });
    expect(res.deleted).toEqual([sha256(orphan)]);
    expect((await server.storedFiles()).some((f) => f.endsWith(sha256(orphan)))).toBe(false);
    expect((await server.db.query<{ n: number }>('select count(*)::int as n from blobs'))[0]!.n).toBe(staged[0]!.n);
    expect((await server.app.request(`/v1/artifacts/sha256/${sha256(sileroV5)}`, { method: 'HEAD' })).status).toBe(200);
  });

  it('serves an OpenAPI 3.1 document and an interactive reference without a token', async () => {
    const doc = await readJson(await server.app.request('/v1/admin/openapi.json'));
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/apps/{app}/rollouts', '/apps/{app}/rollouts/{id}/rollback', '/apps/{app}/tokens']));
    expect(doc.paths['/apps/{app}/rollouts'].post.requestBody.content['application/json'].schema).toBeDefined();
    const page = await server.app.request('/v1/admin/reference');
    expect(page.status).toBe(200);
    const html = await page.text();
    // Every script and style the page names is served here (e2e/api-reference.browser.test.ts renders it).
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(['reference/swagger-ui.css', 'reference/swagger-ui-bundle.js', 'reference/start.js']);
    for (const asset of assets) expect((await server.app.request(`/v1/admin/${asset}`)).status).toBe(200);
    expect(await (await server.app.request('/v1/admin/reference/start.js')).text()).toMatch(/openapi\.json/);
  });
});
