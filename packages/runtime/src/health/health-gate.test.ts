import 'fake-indexeddb/auto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeGolden, type HealthPolicy } from '@edgeloop/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tensor } from '../engine/tensor.js';
import { createRuntime, type RuntimeOptions } from '../runtime.js';
import { fileSystemStore } from '../storage/filesystem-store.js';
import { indexedDbStore } from '../storage/indexeddb-store.js';
import type { ModelStore } from '../storage/model-store.js';
import { memoryTelemetryStorage } from '../telemetry/telemetry-storage.js';
import { FakeRepository } from '../testing/fake-repository.js';
import { ScriptedHost } from './testing/scripted-host.js';

const bytesOf = (text: string) => new TextEncoder().encode(text);
const root = mkdtempSync(join(tmpdir(), 'edgeloop-health-'));
let counter = 0;
const stores: Array<{ kind: string; open(id: string): ModelStore }> = [
  { kind: 'IndexedDB', open: (id) => indexedDbStore({ name: id }) },
  { kind: 'filesystem', open: (id) => fileSystemStore({ directory: join(root, id) }) },
];

const x = (...values: number[]) => ({ x: tensor('float32', Float32Array.from(values), [values.length]) });
/** A golden file: input x = [1, 2, 3]; expected y as given (the scripted models echo x by default). */
const golden = (expected: number[]) =>
  bytesOf(
    JSON.stringify(
      encodeGolden([{ name: 'ramp', inputs: { x: { dtype: 'float32', dims: [3], data: Float32Array.of(1, 2, 3) } }, outputs: { y: { dtype: 'float32', dims: [3], data: Float32Array.from(expected) } } }]),
    ),
  );

describe.each(stores)('health gate ($kind store)', ({ open }) => {
  let repo: FakeRepository;
  let host: ScriptedHost;
  let id: string;
  let events: Array<{ type: string; detail: Record<string, unknown> }>;
  const store = () => open(id);
  const runtimeFor = (overrides: Partial<RuntimeOptions> = {}) => {
    const runtime = createRuntime({ serverUrl: repo.url, app: 'demo', host, storage: store(), trust: { publicKeys: [repo.key.publicKey] }, backends: ['wasm'], ...overrides });
    for (const type of ['trial-start', 'trial-commit', 'trial-revert'] as const) {
      runtime.addEventListener(type, (event) => events.push({ type, detail: event.detail as Record<string, unknown> }));
    }
    return runtime;
  };
  /** v5 installed and run `runs` times on this device (its figures are the baseline), then v6 published. */
  const fiveThenSix = async (six: { golden?: number[]; health?: HealthPolicy }, runs = 25) => {
    repo.publish('vad', '5.0.0', bytesOf('five'));
    const runtime = runtimeFor();
    const five = await runtime.load('vad');
    for (let i = 0; i < runs; i++) await five.run(x(i));
    runtime.dispose(); // stores what it measured
    await vi.waitFor(async () => expect((await store().getModel('demo', 'vad')).health.measurements[0]?.attempts).toBe(runs));
    return repo.publishFiles('vad', '6.0.0', [{ role: 'model', bytes: bytesOf('six') }, ...(six.golden ? [{ role: 'golden' as const, bytes: golden(six.golden) }] : [])], six.health ? { health: six.health } : {});
  };

  beforeEach(async () => {
    repo = await FakeRepository.create();
    await repo.start();
    host = new ScriptedHost();
    id = `health-${++counter}`;
    events = [];
  });
  afterEach(async () => {
    await repo.stop();
  });

  it('runs golden checks before the first real call; a mismatch reverts to the previous release at once and deny-lists it until the manifest offers another', async () => {
    const six = await fiveThenSix({ golden: [3, 2, 1] });
    const model = await runtimeFor().load('vad');
    expect(model.version).toBe('5.0.0');
    expect(model.health).toMatchObject({ state: 'reverted', version: '6.0.0', releaseId: six.releaseId, reason: 'golden_mismatch', detail: expect.stringMatching(/golden case "ramp" on wasm: output 'y': cosine 0\.7143 < 0\.99/) });
    expect(events.map((e) => [e.type, e.detail.reason])).toEqual([['trial-start', undefined], ['trial-revert', 'golden_mismatch']]);
    expect(host.runs.filter((m) => m === 'six')).toHaveLength(1); // the golden case, nothing real
    await vi.waitFor(() => expect(host.released).toContain('six')); // freed after the switch

    expect(await model.run(x(4))).toEqual({ y: tensor('float32', Float32Array.of(4), [1]) });
    expect(host.runs.at(-1)).toBe('five');
    expect(model.health.revertMs).toBeGreaterThanOrEqual(0);
    expect(model.health.revertMs).toBeLessThan(1000);
    // The store step follows the switch; a new start waits for it (below), a reader here may not.
    await vi.waitFor(async () => expect((await store().getModel('demo', 'vad')).active?.version).toBe('5.0.0'));
    const stored = await store().getModel('demo', 'vad');
    expect(stored).toMatchObject({ active: { version: '5.0.0' }, previous: null, health: { trial: null, denied: [{ releaseId: six.releaseId, reason: 'golden_mismatch' }] } });

    // A restart runs the previous release and says why, without opening (or fetching) the refused one.
    const sessionsBefore = host.created.length;
    const artifactsBefore = repo.requestsTo('/artifacts/').length;
    const again = await runtimeFor().load('vad');
    expect(again).toMatchObject({ version: '5.0.0', delivery: { problem: { code: 'health', message: expect.stringMatching(/refused on this device by its health gate \(golden_mismatch: .*\); it is not run again until the manifest offers another release/) } } });
    expect(host.created.slice(sessionsBefore).map((s) => s.model)).toEqual(['five']);
    expect(repo.requestsTo('/artifacts/')).toHaveLength(artifactsBefore);
    expect(await runtimeFor().checkForUpdates()).toEqual([]);

    // The manifest offers another release: the refusal is forgotten and that one is tried.
    repo.publish('vad', '7.0.0', bytesOf('seven'));
    const seven = await runtimeFor().load('vad');
    expect(seven.health).toMatchObject({ state: 'trial', version: '7.0.0' });
    expect((await store().getModel('demo', 'vad')).health.denied).toEqual([]);
  });

  it('moves a release whose golden checks give NaN on webgpu to the next backend, and keeps it there', async () => {
    await fiveThenSix({ golden: [1, 2, 3] });
    host.behaviours.set('six', { output: (input, backend) => (backend === 'webgpu' ? input.map(() => Number.NaN) : Float32Array.from(input)) });
    const model = await runtimeFor({ backends: ['webgpu', 'wasm'] }).load('vad');
    expect(model).toMatchObject({ version: '6.0.0', backend: 'wasm' });
    expect(model.health).toMatchObject({ state: 'trial', refusedBackends: ['webgpu'] });
    expect(host.created.filter((s) => s.model === 'six')).toEqual([{ model: 'six', backend: 'webgpu' }, { model: 'six', backend: 'wasm' }]);
    expect(events.map((e) => e.type)).toEqual(['trial-start']);
    // The next start opens it on wasm straight away.
    const before = host.created.length;
    expect(await runtimeFor({ backends: ['webgpu', 'wasm'] }).load('vad')).toMatchObject({ version: '6.0.0', backend: 'wasm' });
    expect(host.created.slice(before).filter((s) => s.model === 'six')).toEqual([{ model: 'six', backend: 'wasm' }]);
  });

  it('commits after N successful inferences within the signed policy, then frees the previous release', async () => {
    await fiveThenSix({ golden: [1, 2, 3], health: { inferences: 10 } });
    const model = await runtimeFor().load('vad');
    expect(model.health).toMatchObject({ state: 'trial', version: '6.0.0', inferences: 0, needed: 10 });
    for (let i = 0; i < 9; i++) await model.run(x(i));
    expect(model.health).toMatchObject({ state: 'trial', inferences: 9 });
    await model.run(x(9));
    await vi.waitFor(() => expect(model.health.state).toBe('committed'));
    expect(events.map((e) => e.type)).toEqual(['trial-start', 'trial-commit']);
    expect(events[1]!.detail).toMatchObject({ version: '6.0.0', inferences: 10, backend: 'wasm' });
    expect(host.released).toContain('five');
    expect(await store().getModel('demo', 'vad')).toMatchObject({ active: { version: '6.0.0' }, previous: { version: '5.0.0' }, health: { trial: null } });
    // Committed: a restart is no trial, and only the release itself is opened.
    const before = host.created.length;
    expect((await runtimeFor().load('vad')).health.state).toBe('committed');
    expect(host.created.slice(before).map((s) => s.model)).toEqual(['six']);
  });

  it('reverts on an error rate above the previous release + 2 points; the next call is answered by the previous release', async () => {
    await fiveThenSix({ health: { inferences: 12 } });
    host.behaviours.set('six', { fails: (call) => (call % 4 === 0 ? 'engine' : null) });
    const model = await runtimeFor().load('vad');
    for (let i = 0; i < 12; i++) await model.run(x(i)).catch(() => undefined);
    await vi.waitFor(() => expect(model.health.state).toBe('reverted'));
    expect(model.health).toMatchObject({ reason: 'error_rate', detail: 'error rate 25.0% over 12 inferences; the limit is 0.0% (the previous release here) + 2.0%' });
    await model.run(x(1));
    expect(host.runs.at(-1)).toBe('five');
    expect(model.version).toBe('5.0.0');
    // The switch comes first; the store step follows it.
    await vi.waitFor(async () => expect((await store().getModel('demo', 'vad')).active?.version).toBe('5.0.0'));
  });

  it('reverts on a p95 latency above 1.5× what the previous release measured on this device', async () => {
    host.behaviours.set('five', { delayMs: () => 2 });
    await fiveThenSix({ health: { inferences: 10 } });
    host.behaviours.set('six', { delayMs: () => 25 });
    const model = await runtimeFor().load('vad');
    for (let i = 0; i < 10; i++) await model.run(x(i));
    await vi.waitFor(() => expect(model.health.state).toBe('reverted'));
    expect(model.health).toMatchObject({ reason: 'latency', detail: expect.stringMatching(/^p95 latency \d+\.\d+ ms is more than 1\.5× the previous release's \d+\.\d+ ms on this device$/) });
  });

  it("asks the app's check before committing, and reverts when it gives a reason", async () => {
    await fiveThenSix({ health: { inferences: 3 } });
    const seen: string[] = [];
    const model = await runtimeFor({ healthCheck: (m) => (seen.push(m.version), 'speech detected in silence') }).load('vad');
    for (let i = 0; i < 3; i++) await model.run(x(i));
    await vi.waitFor(() => expect(model.health).toMatchObject({ state: 'reverted', reason: 'app_check', detail: 'speech detected in silence' }));
    expect(seen).toEqual(['6.0.0']);
    expect(events.at(-1)).toMatchObject({ type: 'trial-revert', detail: { reason: 'app_check', to: { version: '5.0.0' } } });
  });

  it('reverts a release whose worker crashed twice during its trial (crash_loop)', async () => {
    await fiveThenSix({});
    host.behaviours.set('six', { fails: (call) => (call <= 2 ? 'worker' : null) });
    const model = await runtimeFor().load('vad');
    await expect(model.run(x(1))).rejects.toMatchObject({ code: 'worker' });
    await expect(model.run(x(2))).rejects.toMatchObject({ code: 'worker' });
    await vi.waitFor(() => expect(model.health).toMatchObject({ state: 'reverted', reason: 'crash_loop', detail: 'the worker crashed 2 times during the trial' }));
    expect(model.version).toBe('5.0.0');
  });

  it('reports the revert to telemetry in the period that follows the switch', async () => {
    await fiveThenSix({ golden: [0, 0, 1] });
    const storage = memoryTelemetryStorage();
    const runtime = runtimeFor({ telemetry: { storage, autoFlush: false, flushOnPageHide: false } });
    const model = await runtime.load('vad');
    expect(model.health.state).toBe('reverted');
    await model.run(x(1));
    await vi.waitFor(async () => {
      await runtime.flush();
      const { accumulators } = await storage.read('demo');
      expect(accumulators.filter((a) => a.entry.reverted).map((a) => a.entry.version)).toEqual(['6.0.0']);
      expect(accumulators.find((a) => a.entry.version === '5.0.0')?.entry.attempts).toBe(1);
    });
  });

  it('refuses a first install whose golden checks fail: nothing runs, and the next load does not fetch it again', async () => {
    repo.publishFiles('vad', '6.0.0', [{ role: 'model', bytes: bytesOf('six') }, { role: 'golden', bytes: golden([9, 9, 9]) }]);
    await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'health', message: expect.stringMatching(/failed its golden checks \(golden_mismatch: .*\); nothing else of model "vad" is stored/) });
    expect(await store().getModel('demo', 'vad')).toMatchObject({ active: null, health: { denied: [{ reason: 'golden_mismatch' }] } });
    const artifacts = repo.requestsTo('/artifacts/').length;
    await expect(runtimeFor().load('vad')).rejects.toMatchObject({ code: 'health', message: expect.stringMatching(/and nothing else of model "vad" is cached/) });
    expect(repo.requestsTo('/artifacts/')).toHaveLength(artifacts);
  });
});
