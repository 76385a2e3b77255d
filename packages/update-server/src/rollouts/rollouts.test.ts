import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selectRelease, type Manifest } from '@edgeloop/protocol';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from '../test-support.js';

describe('channels and staged rollouts', () => {
  let server: TestServer;
  const call = (method: string, path: string, body?: unknown) =>
    server.app.request(`/v1/admin/apps/demo${path}`, {
      method,
      headers: { ...server.auth(), 'Content-Type': body === undefined ? 'application/octet-stream' : 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  const manifest = async (): Promise<Manifest> => {
    const body = await readJson(await server.app.request('/v1/apps/demo/manifest'));
    return (body.signed ?? body) as Manifest; // signed envelope: { signed, signatures }
  };
  /** The device's own evaluation, over a simulated fleet of install ids. */
  const fleet = Array.from({ length: 3000 }, (_, i) => `install-${i}`);
  const onCandidate = async () => {
    const entry = (await manifest()).models.vad!;
    return new Set(fleet.filter((id) => selectRelease(entry, id).release.version === '6.0.0'));
  };

  beforeAll(async () => {
    server = await createTestServer();
    for (const [label, bytes] of [['5.0.0', sileroV5], ['6.0.0', sileroV6]] as const) {
      const res = await server.app.request(`/v1/admin/apps/demo/models/vad/versions/${label}`, {
        method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
      });
      expect(res.status).toBe(201);
    }
  });
  afterAll(() => server.dispose());

  it('keeps the channel on the first version until a rollout moves it', async () => {
    expect((await manifest()).models.vad).toMatchObject({ version: '5.0.0' });
    expect((await manifest()).models.vad).not.toHaveProperty('rollout');
  });

  it('moves devices through steps; raising the percentage never removes one; rollback moves exactly those on B', async () => {
    const started = await call('POST', '/rollouts', { model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 5 }, { percentage: 25 }, { percentage: 100 }] });
    expect(started.status).toBe(201);
    const rollout = await readJson(started);
    expect(rollout).toMatchObject({ state: 'running', fromVersion: '5.0.0', toVersion: '6.0.0', percentage: 5, stepIndex: 0 });
    const at5 = await onCandidate();
    expect(at5.size / fleet.length).toBeGreaterThan(0.03);
    expect(at5.size / fleet.length).toBeLessThan(0.07);

    expect((await call('POST', `/rollouts/${rollout.id}/advance`)).status).toBe(200);
    const at25 = await onCandidate();
    expect([...at5].every((id) => at25.has(id))).toBe(true);
    expect(at25.size / fleet.length).toBeGreaterThan(0.21);

    expect((await readJson(await call('POST', `/rollouts/${rollout.id}/pause`))).state).toBe('paused');
    expect(await onCandidate()).toEqual(at25); // paused: nobody moves
    expect((await call('POST', `/rollouts/${rollout.id}/pause`)).status).toBe(409);
    expect((await readJson(await call('POST', `/rollouts/${rollout.id}/resume`))).state).toBe('running');

    const before = (await manifest()).models.vad!;
    expect((await readJson(await call('POST', `/rollouts/${rollout.id}/rollback`))).state).toBe('rolled_back');
    const after = (await manifest()).models.vad!;
    const moved = fleet.filter((id) => selectRelease(before, id).release.releaseId !== selectRelease(after, id).release.releaseId);
    expect(new Set(moved)).toEqual(at25);
    expect((await call('POST', `/rollouts/${rollout.id}/advance`)).status).toBe(409);
  });

  it('completes through the last step, then can roll a completed rollout back', async () => {
    const rollout = await readJson(await call('POST', '/rollouts', { model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 50 }] }));
    expect((await readJson(await call('POST', `/rollouts/${rollout.id}/advance`))).state).toBe('completed');
    expect((await manifest()).models.vad).toMatchObject({ version: '6.0.0' });
    expect((await manifest()).models.vad).not.toHaveProperty('rollout');
    expect((await readJson(await call('POST', `/rollouts/${rollout.id}/rollback`))).state).toBe('rolled_back');
    expect((await manifest()).models.vad).toMatchObject({ version: '5.0.0' });
  });

  it('advances steps by their hold times on the scheduler tick when the rollout has no gate', async () => {
    const rollout = await readJson(await call('POST', '/rollouts', { model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 1, holdMinutes: 60 }, { percentage: 10 }], gate: false }));
    expect(rollout.nextStepAt).not.toBeNull();
    expect(await server.rollouts.tick(new Date(Date.now() + 59 * 60_000))).toBe(0);
    expect(await server.rollouts.tick(new Date(Date.now() + 61 * 60_000))).toBe(1);
    const now = await readJson(await call('GET', `/rollouts/${rollout.id}`));
    expect(now).toMatchObject({ percentage: 10, stepIndex: 1, nextStepAt: null });
    expect(await server.rollouts.tick(new Date(Date.now() + 10 * 86_400_000))).toBe(0); // manual step: waits
    expect((await call('POST', `/rollouts/${rollout.id}/abort`)).status).toBe(200);
  });

  it('pins a channel (kill switch), ending a rollout in progress, and refuses rollouts while pinned', async () => {
    const rollout = await readJson(await call('POST', '/rollouts', { model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 50 }] }));
    const pinned = await call('POST', '/models/vad/channels/stable/pin', { version: '6.0.0' });
    expect(await readJson(pinned)).toMatchObject({ version: '6.0.0', pinned: true });
    expect((await readJson(await call('GET', `/rollouts/${rollout.id}`))).state).toBe('aborted');
    const entry = (await manifest()).models.vad!;
    expect(fleet.every((id) => selectRelease(entry, id).release.version === '6.0.0')).toBe(true);
    expect((await call('POST', '/rollouts', { model: 'vad', toVersion: '5.0.0', steps: [{ percentage: 5 }] })).status).toBe(409);
    expect((await call('DELETE', '/models/vad/channels/stable/pin')).status).toBe(200);
    expect((await readJson(await call('PUT', '/models/vad/channels/stable', { version: '5.0.0' }))).version).toBe('5.0.0');
  });

  it('serves targeting: audience and variant rules reach the manifest and the device picks by them', async () => {
    const up = await server.app.request('/v1/admin/apps/demo/models/vad/versions/6.0.0/variants/fp16/files/model?backend=webgpu&precision=fp16', {
      method: 'POST', body: sileroV5, headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
    });
    expect(up.status).toBe(201);
    const rules = [{ when: { backend: { name: 'webgpu', features: ['shader-f16'] } }, variant: 'fp16' }];
    expect((await call('PUT', '/models/vad/channels/stable', { version: '5.0.0', rules })).status).toBe(200);
    const rollout = await readJson(await call('POST', '/rollouts', { model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 100 }], audience: [{ platforms: ['web'] }] }));
    const entry = (await manifest()).models.vad!;
    expect(entry.rollout).toMatchObject({ id: rollout.id, percentage: 100, audience: [{ platforms: ['web'] }] });
    const gpu = selectRelease(entry, 'x', { platform: 'web', backends: { webgpu: ['shader-f16'] } });
    expect(gpu).toMatchObject({ variant: 'fp16', cohort: { rollout: rollout.id, arm: 'candidate' } });
    expect(gpu.release.version).toBe('6.0.0');
    expect(selectRelease(entry, 'x', { platform: 'kiosk' })).toMatchObject({ variant: null, cohort: { arm: 'excluded' }, release: { version: '5.0.0' } });
    await call('POST', `/rollouts/${rollout.id}/abort`);
  });

  it('answers manifest polls from memory: no query per poll', async () => {
    await manifest();
    const original = server.db.query.bind(server.db);
    let queries = 0;
    server.db.query = ((text: string, params?: unknown[]) => {
      queries++;
      return original(text, params);
    }) as typeof server.db.query;
    try {
      const etag = (await server.app.request('/v1/apps/demo/manifest')).headers.get('etag')!;
      for (let i = 0; i < 200; i++) expect((await server.app.request('/v1/apps/demo/manifest', { headers: { 'If-None-Match': etag } })).status).toBe(304);
      expect(queries).toBe(0);
    } finally {
      server.db.query = original;
    }
  });
});
