import 'fake-indexeddb/auto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, indexedDbStore, inlineHost, tensor } from '@edgeloop/runtime';
import { startTestServer, type TestUpdateServer } from './support/update-server.js';

const MODELS = join(import.meta.dirname, '..', 'node_modules', '@vladmandic', 'human-models', 'models');

/**
 * A TF.js graph model through the whole loop: model.json and its weights published as one version,
 * served only once both are there, delivered and verified, and run by TF.js under Node.
 */
describe('a TF.js model through the loop (MoveNet Lightning)', () => {
  let updates: TestUpdateServer;
  beforeAll(async () => {
    updates = await startTestServer();
  });
  afterAll(async () => {
    await updates?.dispose();
  });

  const publish = (query: string, body: Uint8Array<ArrayBuffer>) =>
    fetch(new URL(`v1/admin/apps/demo/models/pose/versions/1.0.0${query}`, updates.server.url), {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'application/octet-stream', ...updates.admin },
    });
  const manifestModels = async () =>
    Object.keys(((await (await fetch(new URL('v1/apps/demo/manifest', updates.server.url))).json()) as { signed: { models: object } }).signed.models);

  it('is served once model.json and its weights are published, and runs with the signature it declares', async () => {
    const modelJson = new Uint8Array(await readFile(join(MODELS, 'movenet-lightning.json')));
    const created = await publish('?format=tfjs-graph', modelJson);
    expect(created.status).toBe(201);
    const record = (await created.json()) as { variants: Array<{ files: Array<{ role: string; signature: unknown }> }> };
    expect(JSON.stringify(record)).toContain('input:0');
    // Not runnable without its weights: devices are not offered it yet.
    expect(await manifestModels()).toEqual(['vad']);

    const weights = await publish('/variants/default/files/weights?format=tfjs-graph', new Uint8Array(await readFile(join(MODELS, 'movenet-lightning.bin'))));
    expect(weights.status, await weights.clone().text()).toBe(201);
    expect(await manifestModels()).toEqual(['pose', 'vad']);

    const runtime = createRuntime({
      serverUrl: updates.server.url,
      app: 'demo',
      trust: { publicKeys: [updates.server.publicKey] },
      host: inlineHost(),
      storage: indexedDbStore({ name: 'tfjs-loop' }),
      backends: ['cpu'],
    });
    const model = await runtime.load('pose');
    expect(model).toMatchObject({ format: 'tfjs-graph', backend: 'cpu', source: 'network' });
    expect(model.signature.inputs[0]).toMatchObject({ dtype: 'int32', dims: [1, 192, 192, 3] });
    const frame = new Int32Array(192 * 192 * 3).fill(128);
    const outputs = await model.run({ [model.signature.inputs[0]!.name]: tensor('int32', frame, [1, 192, 192, 3]) });
    const keypoints = Object.values(outputs)[0]!;
    expect(keypoints.dims).toEqual([1, 1, 17, 3]);
    // 17 keypoints as (y, x, score), each in [0, 1]
    expect(Array.from(keypoints.data as Float32Array).every((v) => v >= 0 && v <= 1)).toBe(true);
    await model.dispose();
  });

  it('refuses a model.json whose weights are split into several shards, and one that is not model.json', async () => {
    const twoShards = JSON.stringify({ format: 'graph-model', modelTopology: {}, weightsManifest: [{ paths: ['a.bin', 'b.bin'], weights: [] }] });
    const res = await fetch(new URL('v1/admin/apps/demo/models/multi/versions/1.0.0?format=tfjs-graph', updates.server.url), {
      method: 'POST',
      body: twoShards,
      headers: { 'Content-Type': 'application/octet-stream', ...updates.admin },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/split into 2 shards .* re-convert it with a single shard/);
    const notJson = await fetch(new URL('v1/admin/apps/demo/models/multi/versions/1.0.0?format=tfjs-graph', updates.server.url), {
      method: 'POST',
      body: 'not json',
      headers: { 'Content-Type': 'application/octet-stream', ...updates.admin },
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { message: string } }).error.message).toMatch(/not a TF.js model.json/);
  });
});
