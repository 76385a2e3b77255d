import 'fake-indexeddb/auto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, indexedDbStore, inlineHost } from '@edgeloop/runtime';
import { decodeWav } from '../demo/src/wav.js';
import { detectSpeech, speechSegments } from '../demo/src/vad.js';
import { startTestServer, type TestUpdateServer } from './support/update-server.js';

const require = createRequire(import.meta.url);

/**
 * The loop under Node, with every part real except IndexedDB (fake-indexeddb; Chromium covers the
 * real one): publish v6 over HTTP, the runtime picks it up from the manifest, verifies and runs it
 * with onnxruntime-web, reports telemetry, and runs it again with the server gone.
 */
describe('the loop in Node: publish → manifest → download → run → telemetry', () => {
  let updates: TestUpdateServer;
  let samples: Float32Array;

  beforeAll(async () => {
    updates = await startTestServer();
    const wav = await readFile(new URL('../demo/public/speech-16k.wav', import.meta.url));
    samples = decodeWav(wav.buffer.slice(wav.byteOffset, wav.byteOffset + wav.byteLength)).samples;
  });
  afterAll(async () => {
    await updates?.dispose();
  });

  it('serves a newly published version to the runtime, which runs it and reports it', async () => {
    const v6 = await readFile(require.resolve('@ricky0123/vad-web/dist/silero_vad_v6.onnx'));
    // `?channel=stable` makes it current at once (a rollout would stage it; see docs/rollouts.md).
    const published = await fetch(new URL('v1/admin/apps/demo/models/vad/versions/6.0.0?channel=stable', updates.server.url), {
      method: 'POST',
      body: v6,
      headers: { 'Content-Type': 'application/octet-stream', ...updates.admin },
    });
    expect(published.status).toBe(201);

    const storage = indexedDbStore({ name: 'loop-node' });
    const trust = { publicKeys: [updates.server.publicKey] };
    const runtime = createRuntime({ serverUrl: updates.server.url, app: 'demo', host: inlineHost(), storage, trust });
    const model = await runtime.load('vad');
    expect(model).toMatchObject({ version: '6.0.0', source: 'network', backend: 'wasm' });

    const { probabilities } = await detectSpeech(model, samples);
    const segments = speechSegments(probabilities);
    expect(segments.length).toBeGreaterThan(0);
    expect(segments[0]![0]).toBeGreaterThan(1.3);
    expect(segments[0]![0]).toBeLessThan(1.8);
    expect(segments[segments.length - 1]![1]).toBeLessThan(6.3);

    expect(await runtime.flush()).toEqual({ sent: 1 });
    const summary = (await (await fetch(new URL('v1/admin/apps/demo/telemetry/summary', updates.server.url), { headers: updates.admin })).json()) as {
      models: Array<{ version: string; inferences: number; errors: number; latencyMs: { p50: number } }>;
    };
    expect(summary.models).toEqual([
      expect.objectContaining({ version: '6.0.0', inferences: probabilities.length, errors: 0, latencyMs: expect.objectContaining({ p50: expect.any(Number) }) }),
    ]);
    await model.dispose();

    await updates.stop();
    const offline = await createRuntime({ serverUrl: updates.server.url, app: 'demo', host: inlineHost(), storage, trust }).load('vad');
    expect(offline).toMatchObject({ version: '6.0.0', source: 'cache' });
    const again = await detectSpeech(offline, samples);
    again.probabilities.forEach((p, i) => expect(p).toBeCloseTo(probabilities[i]!, 5));
  });
});
