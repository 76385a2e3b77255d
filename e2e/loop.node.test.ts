import 'fake-indexeddb/auto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRuntime, indexedDbStore, inlineHost } from '@edgeloop/runtime';
import { decodeWav } from '../demo/src/wav.js';
import { detectSpeech, speechSegments } from '../demo/src/vad.js';
import { startTestServer, type TestUpdateServer } from './support/update-server.js';
import { recordingFetch } from './support/telemetry-wire.js';

const require = createRequire(import.meta.url);
const HOUR = 3_600_000;
/** The accounting period the server signs into the config: long enough for the runs, short enough to wait out. */
const PERIOD_MS = 10_000;

/**
 * The loop under Node, with every part real except IndexedDB (fake-indexeddb; Chromium covers the
 * real one): publish v6 over HTTP and roll it out, the runtime picks it up from the signed manifest,
 * verifies and runs it with onnxruntime-web, seals one noised report when its period ends and sends
 * it, the server releases the closed window and its views and rollout gate read the release; then
 * the runtime runs v6 again with the server gone.
 */
describe('the loop in Node: publish → rollout → download → run → report → release → view', () => {
  let updates: TestUpdateServer;
  let samples: Float32Array;

  beforeAll(async () => {
    updates = await startTestServer({ telemetry: { config: { periodMs: PERIOD_MS } } });
    const wav = await readFile(new URL('../demo/public/speech-16k.wav', import.meta.url));
    samples = decodeWav(wav.buffer.slice(wav.byteOffset, wav.byteOffset + wav.byteLength)).samples;
  });
  afterAll(async () => {
    await updates?.dispose();
  });

  const admin = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(new URL(`v1/admin/apps/demo/${path}`, updates.server.url), {
      ...init,
      headers: { 'Content-Type': 'application/json', ...updates.admin, ...(init.headers as Record<string, string>) },
    });
    expect(res.status, `${path}: ${await res.clone().text()}`).toBeLessThan(300);
    return (await res.json()) as Record<string, unknown>;
  };

  it('rolls out a newly published version to the runtime, which runs it and reports it; the release shows in the views', async () => {
    const v6 = await readFile(require.resolve('@ricky0123/vad-web/dist/silero_vad_v6.onnx'));
    const published = await fetch(new URL('v1/admin/apps/demo/models/vad/versions/6.0.0', updates.server.url), {
      method: 'POST',
      body: v6,
      headers: { 'Content-Type': 'application/octet-stream', ...updates.admin },
    });
    expect(published.status).toBe(201);
    // One step at 100 %: this one device is in the candidate arm (docs/rollouts.md).
    const rollout = (await admin('rollouts', { method: 'POST', body: JSON.stringify({ model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 100 }] }) })) as { id: string };

    const storage = indexedDbStore({ name: 'loop-node' });
    const trust = { publicKeys: [updates.server.publicKey] };
    const wire = recordingFetch();
    const runtime = createRuntime({ serverUrl: updates.server.url, app: 'demo', host: inlineHost(), storage, trust, fetch: wire.fetch });
    const model = await runtime.load('vad');
    expect(model).toMatchObject({ version: '6.0.0', source: 'network', backend: 'wasm' });
    expect(model.delivery.cohort).toEqual({ rollout: rollout.id, arm: 'candidate', step: 0 });

    const { probabilities } = await detectSpeech(model, samples);
    const segments = speechSegments(probabilities);
    expect(segments.length).toBeGreaterThan(0);
    expect(segments[0]![0]).toBeGreaterThan(1.3);
    expect(segments[0]![0]).toBeLessThan(1.8);
    expect(segments[segments.length - 1]![1]).toBeLessThan(6.3);

    // The period is running: exact counts stay on the device, nothing is sent.
    expect((await runtime.telemetry.pending()).entries).toEqual([
      expect.objectContaining({ model: 'vad', version: '6.0.0', backend: 'wasm', state: 'recording', inferences: probabilities.length, errors: 0 }),
    ]);
    expect(await runtime.flush()).toEqual({ sent: 0 });
    expect(wire.sent).toEqual([]);

    // The period ends: the runtime seals it on its own (timer at the boundary) and sends it.
    await vi.waitFor(() => expect(wire.sent).toHaveLength(1), { timeout: PERIOD_MS + 20_000, interval: 250 });
    const config = (await admin('telemetry/config')).current as { id: string; periodMs: number };
    expect(config.periodMs).toBe(PERIOD_MS);
    const [{ report, status }] = wire.sent as [(typeof wire.sent)[0]];
    expect(status).toBe(202);
    expect(report).toMatchObject({ schema: 3, app: 'demo', config: config.id, models: [{ model: 'vad', version: '6.0.0', backend: 'wasm', cohort: { rollout: rollout.id, arm: 'candidate', step: 0 } }] });
    expect(report.period).toBeLessThanOrEqual(Math.floor(Date.now() / HOUR));
    expect((await runtime.telemetry.pending()).entries).toEqual([]);

    // Until its hour closes the report is in no view: nothing below the floor or unreleased exists.
    const before = await admin('telemetry/performance');
    expect(before).toMatchObject({ versions: [], demo: true, minReports: 1, notice: expect.stringMatching(/^fewer than 1 reports were released/) });

    await updates.closeWindow();
    const releases = (await admin('telemetry/releases')).releases;
    expect(releases).toEqual([
      expect.objectContaining({ model: 'vad', version: '6.0.0', backend: 'wasm', cohort: { rollout: rollout.id, arm: 'candidate', step: 0 }, reports: 1 }),
    ]);
    const performance = (await admin('telemetry/performance')).versions;
    expect(performance).toEqual([expect.objectContaining({ model: 'vad', version: '6.0.0', backend: 'wasm', reports: 1 })]);
    const cohorts = (await admin('telemetry/cohorts')).cohorts;
    expect(cohorts).toEqual([expect.objectContaining({ model: 'vad', version: '6.0.0', cohort: { rollout: rollout.id, arm: 'candidate', step: 0 }, reports: 1 })]);
    // The gate looked at the closed window: one candidate report and no control arm cannot decide anything.
    const [decision] = (await admin(`rollouts/${rollout.id}/decisions`)).decisions as Array<Record<string, unknown>>;
    expect(decision).toMatchObject({ outcome: 'hold', rule: 'insufficient_reports', applied: false, stepIndex: 0 });
    expect(decision!.reason).toEqual(expect.any(String));
    await model.dispose();

    await updates.stop();
    const offline = await createRuntime({ serverUrl: updates.server.url, app: 'demo', host: inlineHost(), storage, trust }).load('vad');
    expect(offline).toMatchObject({ version: '6.0.0', source: 'cache' });
    const again = await detectSpeech(offline, samples);
    again.probabilities.forEach((p, i) => expect(p).toBeCloseTo(probabilities[i]!, 5));
  }, 150_000);
});
