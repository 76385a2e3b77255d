import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { defaultTelemetryConfig, parseReport, ReferenceProfile, REPORT_SCHEMA_VERSION } from '@edgeloop/telemetry';
import { RuntimeError } from './errors.js';
import { tensor } from './engine/tensor.js';
import { createRuntime, type RuntimeOptions } from './runtime.js';
import { indexedDbStore } from './storage/indexeddb-store.js';
import { FakeRepository } from './testing/fake-repository.js';
import { RecordingHost } from './testing/recording-host.js';
import { memoryTelemetryStorage } from './telemetry/telemetry-storage.js';

const DAY = 86_400_000;

const bytesOf = (text: string) => new TextEncoder().encode(text);
let dbCounter = 0;

describe('createRuntime', () => {
  let repo: FakeRepository;
  let host: RecordingHost;
  let dbName: string;
  const runtimeFor = (overrides: Partial<RuntimeOptions> = {}) =>
    createRuntime({
      serverUrl: repo.url,
      app: 'demo',
      host,
      storage: indexedDbStore({ name: dbName }),
      trust: { publicKeys: [repo.key.publicKey] },
      ...overrides,
    });

  beforeEach(async () => {
    repo = await FakeRepository.create();
    await repo.start();
    host = new RecordingHost();
    dbName = `runtime-test-${++dbCounter}`;
  });
  afterEach(async () => {
    await repo.stop();
  });

  it('downloads, verifies and caches a release, then serves it from the cache', async () => {
    repo.publish('vad', '5.0.0', bytesOf('model five'));
    const first = await runtimeFor().load('vad');
    expect(first).toMatchObject({ name: 'vad', version: '5.0.0', source: 'network', backend: 'wasm' });
    expect(new TextDecoder().decode(host.created[0])).toBe('model five');

    const second = await runtimeFor().load('vad');
    expect(second.source).toBe('cache');
    expect(new TextDecoder().decode(host.created[1])).toBe('model five');
    expect(repo.requestsTo('/artifacts/')).toHaveLength(1);
    // The second poll was conditional and answered 304.
    const [firstPoll, secondPoll] = repo.requestsTo('/manifest');
    expect(secondPoll!.headers['if-none-match']).toMatch(/^".+"$/);
    expect(secondPoll!.status).toBe(304);
    expect(firstPoll!.status).toBe(200);
  });

  it('picks up a new release from the manifest', async () => {
    repo.publish('vad', '5.0.0', bytesOf('model five'));
    await runtimeFor().load('vad');
    repo.publish('vad', '6.0.0', bytesOf('model six'));
    const next = await runtimeFor().load('vad');
    expect(next).toMatchObject({ version: '6.0.0', source: 'network' });
  });

  it('runs the cached release when the server is unreachable', async () => {
    repo.publish('vad', '5.0.0', bytesOf('model five'));
    await runtimeFor().load('vad');
    await repo.stop();
    const offline = await runtimeFor().load('vad');
    expect(offline).toMatchObject({ version: '5.0.0', source: 'cache' });
  });

  it('fails clearly offline when nothing is cached', async () => {
    await repo.stop();
    await expect(runtimeFor().load('vad')).rejects.toMatchObject({
      code: 'network',
      message: expect.stringMatching(/could not reach the update server .* model "vad" is not cached yet/),
    });
  });

  it('rejects bytes whose sha256 does not match, and stores nothing', async () => {
    const release = repo.publish('vad', '5.0.0', bytesOf('model five'));
    repo.files.set(`/${release.files[0]!.url}`, bytesOf('model fiv3'));
    const error = await runtimeFor().load('vad').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error).toMatchObject({ code: 'integrity', message: expect.stringMatching(/sha256 mismatch .* nothing was stored/) });
    expect(host.created).toHaveLength(0);
    expect((await indexedDbStore({ name: dbName }).getModel('demo', 'vad')).active).toBeNull();
    // Offline now: there must be nothing to fall back to.
    await repo.stop();
    await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'network' });
  });

  it('rejects a server that sends more bytes than the manifest states', async () => {
    const release = repo.publish('vad', '5.0.0', bytesOf('model five'));
    repo.files.set(`/${release.files[0]!.url}`, bytesOf('model five and then some'));
    await expect(runtimeFor().load('vad')).rejects.toMatchObject({
      code: 'integrity',
      message: expect.stringMatching(/announces 24 bytes but the manifest states 10/),
    });
    expect((await indexedDbStore({ name: dbName }).getModel('demo', 'vad')).active).toBeNull();
  });

  it('keeps running the previous release when a new one fails verification', async () => {
    repo.publish('vad', '5.0.0', bytesOf('model five'));
    await runtimeFor().load('vad');
    const six = repo.publish('vad', '6.0.0', bytesOf('model six'));
    repo.files.set(`/${six.files[0]!.url}`, bytesOf('model 5ix'));
    const model = await runtimeFor().load('vad');
    expect(model).toMatchObject({ version: '5.0.0', source: 'cache' });
    expect(model.delivery.problem).toMatchObject({ code: 'integrity' });
    const { active } = await indexedDbStore({ name: dbName }).getModel('demo', 'vad');
    expect(active?.version).toBe('5.0.0');
  });

  it('names the models an app has when asked for another', async () => {
    repo.publish('vad', '5.0.0', bytesOf('model five'));
    await expect(runtimeFor().load('asr')).rejects.toMatchObject({ code: 'not_found', message: 'app "demo" has no model "asr"; its manifest lists "vad"' });
  });

  it('refuses bad arguments before any request', async () => {
    const trust = { publicKeys: [repo.key.publicKey] };
    expect(() => createRuntime({ serverUrl: 'not a url', app: 'demo', trust })).toThrow(/serverUrl must be an absolute URL/);
    expect(() => createRuntime({ serverUrl: repo.url, app: 'Demo App', trust })).toThrow(/app must be 1–64 characters/);
    await expect(runtimeFor().load('../etc')).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(repo.requests).toHaveLength(0);
  });

  it('checks input names before the engine sees them, and refuses runs after dispose', async () => {
    repo.publish('vad', '5.0.0', bytesOf('model five'));
    const model = await runtimeFor().load('vad');
    const x = tensor('float32', Float32Array.of(1, 2), [2]);
    await expect(model.run({ z: x })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: "model \"vad\" takes inputs 'x': float32[?]; missing 'x'; unknown 'z'",
    });
    expect(await model.run({ x })).toEqual({ y: x });
    await model.dispose();
    await expect(model.run({ x })).rejects.toMatchObject({ code: 'disposed' });
    expect(host.released).toEqual([1]);
  });

  it('records runs per period and sends one schema-3 report under the manifest\'s signed config once the period has ended', async () => {
    const config = defaultTelemetryConfig('tc_runtime');
    repo.publish('vad', '5.0.0', bytesOf('model five'));
    repo.bump({ telemetry: config as unknown as Record<string, unknown> });
    let clock = 20_000 * DAY + 1000;
    const runtime = runtimeFor({ telemetry: { storage: memoryTelemetryStorage(), autoFlush: false, flushOnPageHide: false, now: () => clock } });
    const model = await runtime.load('vad');
    const x = tensor('float32', Float32Array.of(1), [1]);
    await model.run({ x });
    await model.run({ x });
    host.failNextRun = new Error('engine exploded');
    await expect(model.run({ x })).rejects.toMatchObject({ message: 'engine exploded' });

    // The period is running: flush stores, seals nothing, sends nothing.
    expect(await runtime.flush()).toEqual({ sent: 0 });
    expect(repo.requestsTo('/telemetry')).toEqual([]);
    expect((await runtime.telemetry.pending()).entries).toEqual([expect.objectContaining({ model: 'vad', version: '5.0.0', backend: 'wasm', state: 'recording', inferences: 2, errors: 1 })]);

    clock += DAY;
    repo.telemetryStatus = 503;
    const failed = await runtime.flush();
    expect(failed.error).toMatch(/kept for the next flush: the server answered 503/);
    expect((await runtime.telemetry.pending()).entries).toEqual([expect.objectContaining({ state: 'queued', inferences: 2, errors: 1 })]);

    repo.telemetryStatus = 202;
    clock += 3_600_000; // past the backoff
    expect(await runtime.flush()).toEqual({ sent: 1 });
    const posted = repo.requestsTo('/telemetry');
    const report = parseReport(JSON.parse(posted[posted.length - 1]!.body));
    // `period` names the hour the device's period started: the first count, at 20,000 days + 1 s.
    expect(report).toMatchObject({ schema: REPORT_SCHEMA_VERSION, app: 'demo', config: 'tc_runtime', period: 20_000 * 24, models: [{ model: 'vad', version: '5.0.0', backend: 'wasm' }] });
    expect(posted[posted.length - 1]!.headers['content-type']).toBe('text/plain;charset=UTF-8');
    expect((await runtime.telemetry.pending()).entries).toEqual([]);
  });

  it('seals nothing while no verified manifest has brought a telemetry config, and says so', async () => {
    repo.publish('vad', '5.0.0', bytesOf('model five'));
    let clock = 20_000 * DAY;
    const runtime = runtimeFor({ telemetry: { storage: memoryTelemetryStorage(), autoFlush: false, flushOnPageHide: false, now: () => clock } });
    await (await runtime.load('vad')).run({ x: tensor('float32', Float32Array.of(1), [1]) });
    clock += DAY;
    expect(await runtime.flush()).toEqual({ sent: 0 });
    expect((await runtime.telemetry.pending()).blocked).toMatch(/no telemetry config yet/);
  });

  it('fetches the release\'s signed profile, counts only declared features, and makes every request without credentials or referrer', async () => {
    const profile = ReferenceProfile.fromSamples({
      id: 'vad@5/ref1',
      numeric: [
        { name: 'x[0]', values: Array.from({ length: 100 }, (_, i) => i / 100) },
        { name: 'x.max', values: Array.from({ length: 100 }, (_, i) => i / 100) },
      ],
    });
    const bytes = bytesOf(JSON.stringify(profile.toJSON()));
    const url = 'v1/profiles/vad-5-ref1';
    repo.files.set(`/${url}`, bytes);
    const release = repo.publish('vad', '5.0.0', bytesOf('model five'));
    const ref = { id: profile.id, sha256: createHash('sha256').update(bytes).digest('hex'), length: bytes.byteLength, url };
    repo.bump({ models: { vad: { ...release, profile: ref } }, telemetry: defaultTelemetryConfig('tc_runtime') as unknown as Record<string, unknown> });
    const inits: Array<RequestInit | undefined> = [];
    const recording = ((input: RequestInfo | URL, init?: RequestInit) => {
      inits.push(init);
      return fetch(input, init);
    }) as typeof fetch;
    const storage = memoryTelemetryStorage();
    let clock = 20_000 * DAY;
    const runtime = runtimeFor({ fetch: recording, telemetry: { storage, autoFlush: false, flushOnPageHide: false, now: () => clock } });
    const model = await runtime.load('vad', { telemetry: { report: [{ name: 'x[0]', range: [0, 1] }] } });
    // Fetching and checking the profile runs beside load(): on a busy machine it can take longer
    // than vi.waitFor's default of one second.
    const waiting = { timeout: 15_000, interval: 50 };
    await vi.waitFor(() => expect(repo.requestsTo('/profiles/')).toHaveLength(1), waiting);
    await vi.waitFor(async () => {
      await model.run({ x: tensor('float32', Float32Array.of(0.5, 0.9), [2]) });
      await runtime.flush();
      const [accumulator] = (await storage.read('demo')).accumulators;
      expect(accumulator!.entry.features).toMatchObject({ profile: 'vad@5/ref1', declared: [0] });
    }, waiting);
    const [accumulator] = (await storage.read('demo')).accumulators;
    expect(accumulator!.entry.features!.cells[1]!.every((n) => n === 0)).toBe(true); // x.max: not declared
    clock += DAY;
    expect(await runtime.flush()).toEqual({ sent: 1 });
    expect(repo.requestsTo('/profiles/')).toHaveLength(1); // no fetch by version path, and only once
    expect(inits.length).toBeGreaterThanOrEqual(4); // manifest, artifact, profile, telemetry
    for (const init of inits) expect(init).toMatchObject({ credentials: 'omit', referrerPolicy: 'no-referrer' });
  });

  it('refuses bad feature declarations before any request', async () => {
    await expect(runtimeFor().load('vad', { telemetry: { report: [{ name: 'x.rms', range: [1, 0] }] } })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/telemetry.report\[0\].range must be \[min, max\] with finite min < max/),
    });
    expect(repo.requests).toHaveLength(0);
  });
});
