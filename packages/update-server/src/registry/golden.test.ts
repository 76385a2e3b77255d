import { encodeGolden, parseManifest } from '@edgeloop/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from '../test-support.js';

const frame = (stateSize = 256, stateDims = [2, 1, 128], outputs: Record<string, { dtype: 'float32'; dims: number[]; data: Float32Array }> = { output: { dtype: 'float32', dims: [1, 1], data: Float32Array.of(0.01) } }) =>
  new TextEncoder().encode(
    JSON.stringify(
      encodeGolden([
        {
          name: 'silence',
          inputs: {
            input: { dtype: 'float32', dims: [1, 576], data: new Float32Array(576) },
            state: { dtype: 'float32', dims: stateDims, data: new Float32Array(stateSize) },
            sr: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) },
          },
          outputs,
        },
      ]),
    ),
  );

describe('golden files and health policies (registry)', () => {
  let server: TestServer;
  const req = (path: string, init: RequestInit = {}) => server.app.request(path, { ...init, headers: { ...server.auth(), ...(init.headers as Record<string, string>) } });
  const upload = (path: string, bytes: Uint8Array) => req(path, { method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream' } });
  const golden = (bytes: Uint8Array, version = '6.0.0', variant = 'default') => upload(`/v1/admin/apps/demo/models/vad/versions/${version}/variants/${variant}/files/golden`, bytes);
  const manifest = async () => parseManifest((await readJson(await server.app.request('/v1/apps/demo/manifest'))).signed);

  beforeAll(async () => {
    server = await createTestServer({ maxUploadBytes: 8 * 1024 * 1024 });
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/5.0.0', sileroV5)).status).toBe(201);
    expect((await upload('/v1/admin/apps/demo/models/vad/versions/6.0.0', sileroV6)).status).toBe(201);
  });
  afterAll(() => server.dispose());

  it('refuses golden files whose shapes do not fit the signature, with 400 naming the mismatch, and stores nothing', async () => {
    const stored = await server.storedFiles();
    const res = await golden(frame(128, [2, 1, 64]));
    expect(res.status).toBe(400);
    expect((await readJson(res)).error).toMatchObject({
      code: 'bad_request',
      message: `the golden file does not fit the signature of vad@6.0.0: case "silence": input 'state' must be float32[2,?,128], got float32[2,1,64]`,
    });
    const unknownOutput = await golden(frame(256, [2, 1, 128], { prob: { dtype: 'float32', dims: [1], data: Float32Array.of(0) } }));
    expect((await readJson(unknownOutput)).error.message).toMatch(/case "silence": the model has no output 'prob' \(it returns output: float32\[\?,1\], stateN: float32\[\?,\?,\?\]\)/);
    const notGolden = await golden(new TextEncoder().encode('{"format":"edgeloop-golden","version":1,"cases":[{"name":"a","inputs":{"sr":{"dtype":"int64","shape":[],"data":[16000]}},"outputs":{"output":{"dtype":"float32","shape":[1,1],"data":[0]}}}]}'));
    expect(notGolden.status).toBe(400);
    expect((await readJson(notGolden)).error.message).toMatch(/^the golden file is invalid: cases\.0\.inputs\.sr\.data\.0: int64 data must be decimal strings/);
    expect(await server.storedFiles()).toEqual(stored);
    expect((await readJson(await req('/v1/admin/apps/demo/models/vad/versions/6.0.0'))).variants[0].files.map((f: { role: string }) => f.role)).toEqual(['model']);
  });

  it('stores golden files content-addressed, several per variant, once each', async () => {
    const before = (await readJson(await req('/v1/admin/apps/demo/models/vad/versions/6.0.0')));
    expect((await golden(frame())).status).toBe(201);
    const again = await golden(frame());
    expect(again.status).toBe(409);
    expect((await readJson(again)).error.message).toMatch(/already has this golden file/);
    const second = frame(256, [2, 1, 128], { output: { dtype: 'float32', dims: [1, 1], data: Float32Array.of(0.5) } });
    expect((await golden(second)).status).toBe(201);
    const after = await readJson(await req('/v1/admin/apps/demo/models/vad/versions/6.0.0'));
    expect(after.variants[0].files.map((f: { role: string }) => f.role)).toEqual(['golden', 'golden', 'model']);
    expect(before.variants[0].files).toHaveLength(1);
    expect((await golden(frame(), '7.0.0')).status).toBe(404);
    expect((await readJson(await golden(frame(), '6.0.0', 'fp16'))).error.message).toMatch(/variant "fp16" has no model file yet; publish the model file of variant "fp16" before its golden files/);
    const audit = await readJson(await req('/v1/admin/apps/demo/audit'));
    expect(audit.entries.filter((e: { target: string }) => e.target === 'vad@6.0.0/default/golden')).toHaveLength(2);
  });

  it('lists golden files and the health policy in the signed manifest, for the control and a rollout candidate', async () => {
    const start = await req('/v1/admin/apps/demo/rollouts', { method: 'POST', body: JSON.stringify({ model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 10 }, { percentage: 100 }] }), headers: { 'Content-Type': 'application/json' } });
    expect(start.status).toBe(201);
    const put = (version: string, body: unknown) => req(`/v1/admin/apps/demo/models/vad/versions/${version}/health`, { method: 'PUT', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
    expect((await put('6.0.0', { inferences: 20, p95Ratio: 2, golden: { maxAbs: 0.05 } })).status).toBe(200);
    const candidate = (await manifest()).models.vad!.rollout!.candidate;
    expect(candidate.health).toEqual({ inferences: 20, p95Ratio: 2, golden: { maxAbs: 0.05 } });
    expect(candidate.files.map((f) => f.role)).toEqual(['model', 'golden', 'golden']);
    expect(candidate.releaseId).toMatch(/^vad@6\.0\.0#[0-9a-f]{16}\+g[0-9a-f]{12}$/);
    // The control has no golden files and keeps the release id it always had; its policy is the default until set.
    const control = (await manifest()).models.vad!;
    expect(control.releaseId).toMatch(/^vad@5\.0\.0#[0-9a-f]{16}$/);
    expect(control.health).toBeUndefined();
    expect((await put('5.0.0', { errorRateDelta: 0.05 })).status).toBe(200);
    expect((await manifest()).models.vad!.health).toEqual({ errorRateDelta: 0.05 });
    expect((await put('5.0.0', {})).status).toBe(200);
    expect((await manifest()).models.vad!.health).toBeUndefined();

    const typo = await put('6.0.0', { p95ratio: 2 });
    expect(typo.status).toBe(400);
    expect((await readJson(typo)).error.message).toMatch(/p95ratio/);
    expect((await readJson(await put('6.0.0', { golden: {} }))).error.message).toMatch(/body field "golden": give at least one of cosine, maxAbs, maxRel/);
    expect((await put('9.9.9', {})).status).toBe(404);
  });
});
