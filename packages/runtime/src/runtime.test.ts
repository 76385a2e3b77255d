import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPORT_SCHEMA_VERSION } from '@edgeloop/telemetry';
import { RuntimeError } from './errors.js';
import { tensor } from './engine/tensor.js';
import { createRuntime, type RuntimeOptions } from './runtime.js';
import { indexedDbStore } from './storage/indexeddb-store.js';
import { FakeRepository } from './testing/fake-repository.js';
import { RecordingHost } from './testing/recording-host.js';

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

  it('counts inferences and errors and posts them on flush; a failed post keeps them', async () => {
    repo.publish('vad', '5.0.0', bytesOf('model five'));
    const runtime = runtimeFor();
    const model = await runtime.load('vad');
    const x = tensor('float32', Float32Array.of(1), [1]);
    await model.run({ x });
    await model.run({ x });
    host.failNextRun = new Error('engine exploded');
    await expect(model.run({ x })).rejects.toMatchObject({ message: 'engine exploded' });

    repo.telemetryStatus = 503;
    const failed = await runtime.flush();
    expect(failed.error).toMatch(/kept for the next flush: the server answered 503/);
    expect(runtime.telemetry.pending()).toEqual([{ model: 'vad', version: '5.0.0', backend: 'wasm', inferences: 2, errors: 1 }]);

    repo.telemetryStatus = 202;
    expect(await runtime.flush()).toEqual({ sent: 1 });
    const posted = repo.requestsTo('/telemetry');
    const report = JSON.parse(posted[posted.length - 1]!.body);
    expect(report).toMatchObject({ schema: REPORT_SCHEMA_VERSION, app: 'demo', models: [{ model: 'vad', version: '5.0.0', inferences: 2, errors: 1 }] });
    expect(runtime.telemetry.pending()).toEqual([]);
    expect(await runtime.flush()).toEqual({ sent: 0 });
  });
});
