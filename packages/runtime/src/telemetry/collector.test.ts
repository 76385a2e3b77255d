import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ReferenceProfileRef } from '@edgeloop/protocol';
import { defaultTelemetryConfig, parseReport, reportEpsilon, ReferenceProfile, type TelemetryConfig, type TelemetryReport } from '@edgeloop/telemetry';
import { tensor, type Feeds, type Outputs } from '../engine/tensor.js';
import { privateFetch } from '../private-fetch.js';
import { TelemetryCollector, type TelemetryOptions } from './collector.js';
import { memoryTelemetryStorage, type TelemetryStorage } from './telemetry-storage.js';

const DAY = 86_400_000;
const BASE = new URL('http://updates.test/');

const profile = ReferenceProfile.fromSamples({
  id: 'vad@5/ref1',
  numeric: [
    { name: 'input.rms', values: Array.from({ length: 1000 }, (_, i) => i / 1000) },
    { name: 'input[300]', values: Array.from({ length: 1000 }, (_, i) => i / 1000) },
    { name: 'output.max', role: 'output', values: Array.from({ length: 1000 }, (_, i) => i / 1000) },
  ],
  categorical: [{ name: 'output.argmax', role: 'output', values: ['0', '1', '1', '2'] }],
});
const profileBytes = new TextEncoder().encode(JSON.stringify(profile.toJSON()));
const profileRef: ReferenceProfileRef = {
  id: profile.id,
  sha256: createHash('sha256').update(profileBytes).digest('hex'),
  length: profileBytes.byteLength,
  url: 'v1/profiles/vad-5-ref1.json',
};

/** A fetch that answers like the update server and records every request with its options. */
function fakeServer(options: { telemetry?: () => Response; profile?: () => Response } = {}) {
  const calls: Array<{ url: string; init: RequestInit | undefined }> = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, init });
    if (url.endsWith('/telemetry')) return options.telemetry?.() ?? new Response(null, { status: 202 });
    if (url.endsWith(profileRef.url)) return options.profile?.() ?? new Response(profileBytes, { status: 200 });
    return new Response(null, { status: 404 });
  }) as typeof fetch;
  const telemetryCalls = () => calls.filter((c) => c.url.endsWith('/telemetry'));
  const reports = (): TelemetryReport[] =>
    telemetryCalls().flatMap((c) => {
      const parsed: unknown = JSON.parse(c.init!.body as string);
      return (Array.isArray(parsed) ? parsed : [parsed]).map((r) => parseReport(r));
    });
  return { fetchImpl, calls, telemetryCalls, reports };
}

let clock = 20_000 * DAY + 12 * 3_600_000;
const collectors: TelemetryCollector[] = [];
function collector(
  fetchImpl: typeof fetch,
  init: { config?: TelemetryConfig | null; settings?: TelemetryOptions; storage?: TelemetryStorage; events?: EventTarget } = {},
): TelemetryCollector {
  const config = init.config === undefined ? defaultTelemetryConfig('tc_test') : init.config;
  const c = new TelemetryCollector({
    app: 'demo',
    baseUrl: BASE,
    fetch: fetchImpl,
    config: () => config,
    ...(init.events && { events: init.events }),
    settings: { storage: init.storage ?? memoryTelemetryStorage(), autoFlush: false, flushOnPageHide: false, now: () => clock, ...init.settings },
  });
  collectors.push(c);
  return c;
}
afterEach(() => {
  collectors.splice(0).forEach((c) => c.dispose());
  vi.restoreAllMocks();
});

const model = { name: 'vad', version: '5.0.0', backend: 'wasm' };
const feeds: Feeds = { input: tensor('float32', Float32Array.of(3, 4), [2]) };
const outputs: Outputs = { output: tensor('float32', Float32Array.of(0.1, 0.7, 0.2), [3]) };

describe('TelemetryCollector', () => {
  it('seals one schema-3 report per ended period, with the cohort and ε of the config; flush never seals the current period', async () => {
    const server = fakeServer();
    const c = collector(server.fetchImpl);
    c.loaded(model, { cohort: { rollout: 'ro_0123456789ab', arm: 'candidate', step: 2 } });
    for (let i = 0; i < 30; i++) c.observe('vad', '5.0.0', 'wasm', 2);
    c.fail('vad', '5.0.0', 'wasm', 'engine');
    expect(await c.flush()).toEqual({ sent: 0 });
    expect(server.telemetryCalls()).toEqual([]);
    expect((await c.pending()).entries).toEqual([
      expect.objectContaining({ model: 'vad', backend: 'wasm', state: 'recording', inferences: 30, errors: 1, cohort: { rollout: 'ro_0123456789ab', arm: 'candidate', step: 2 } }),
    ]);

    clock += DAY;
    expect(await c.flush()).toEqual({ sent: 1 });
    const [report, ...others] = server.reports();
    expect(others).toEqual([]);
    // Periods run from the first count; a report names its period by the hour it started.
    expect(report).toMatchObject({ schema: 3, app: 'demo', config: 'tc_test', period: Math.floor((clock - DAY) / 3_600_000) });
    expect(report!.epsilon).toBe(reportEpsilon(defaultTelemetryConfig('tc_test'), [{ summary: false }]));
    expect(report!.models).toEqual([expect.objectContaining({ model: 'vad', version: '5.0.0', backend: 'wasm', cohort: { rollout: 'ro_0123456789ab', arm: 'candidate', step: 2 } })]);
    // Noised values only: no exact counts, no latencies in milliseconds, no time of sending.
    expect(Object.keys(report!)).not.toContain('sentAt');
    expect((await c.pending()).entries).toEqual([]);
    expect(await c.flush()).toEqual({ sent: 0 });
  });

  it('starts a new period when the rollout step or the release changes, dropping the unfinished one', async () => {
    const server = fakeServer();
    const storage = memoryTelemetryStorage();
    const c = collector(server.fetchImpl, { storage });
    await c.loaded(model, { cohort: { rollout: 'ro_0123456789ab', arm: 'control', step: 0 } });
    for (let i = 0; i < 5; i++) c.observe('vad', '5.0.0', 'wasm', 2);
    await c.flush();
    clock += 3_600_000;
    // The manifest moved the rollout to its next step: both arms' devices start a period now.
    await c.loaded(model, { cohort: { rollout: 'ro_0123456789ab', arm: 'control', step: 1 } });
    await vi.waitFor(async () => expect((await storage.read('demo')).period.start).toBe(clock));
    for (let i = 0; i < 3; i++) c.observe('vad', '5.0.0', 'wasm', 2);
    await c.flush();
    expect((await c.pending()).entries).toEqual([expect.objectContaining({ state: 'recording', inferences: 3, start: clock, cohort: expect.objectContaining({ step: 1 }) })]);
    clock += DAY;
    expect(await c.flush()).toEqual({ sent: 1 });
    expect(server.reports()[0]!.period).toBe(Math.floor((clock - DAY) / 3_600_000));
  });

  it('keeps inferences counted before the first assignment is stored, when the clock ticks in between', async () => {
    const server = fakeServer();
    const storage = memoryTelemetryStorage();
    // Every clock read is 1 ms later: the tab starts its period before storage learns of it.
    const c = collector(server.fetchImpl, { storage, settings: { now: () => clock++ } });
    c.loaded(model, { cohort: { rollout: 'ro_0123456789ab', arm: 'candidate', step: 0 } });
    for (let i = 0; i < 7; i++) c.observe('vad', '5.0.0', 'wasm', 2);
    expect(await c.flush()).toEqual({ sent: 0 });
    expect((await c.pending()).entries).toEqual([expect.objectContaining({ state: 'recording', inferences: 7 })]);
    clock += DAY;
    expect(await c.flush()).toEqual({ sent: 1 });
  });

  it('reports no cohort for a device outside the rollout audience', async () => {
    const server = fakeServer();
    const c = collector(server.fetchImpl);
    c.loaded(model, { cohort: { rollout: 'ro_0123456789ab', arm: 'excluded', step: 0 } });
    c.observe('vad', '5.0.0', 'wasm', 2);
    clock += DAY;
    await c.flush();
    expect(server.reports()[0]!.models[0]).not.toHaveProperty('cohort');
  });

  it('flags fellBack on the lost backend and reverted on the model, in the raw counts', async () => {
    const storage = memoryTelemetryStorage();
    const c = collector(fakeServer().fetchImpl, { storage });
    c.loaded({ ...model, backend: 'webgpu' }, { cohort: null });
    c.observe('vad', '5.0.0', 'webgpu', 2);
    c.backendLost('vad', '5.0.0', 'webgpu');
    c.observe('vad', '5.0.0', 'wasm', 3);
    c.reverted('vad', '5.0.0');
    await c.flush();
    const entries = (await storage.read('demo')).accumulators.map((a) => a.entry);
    expect(entries.find((e) => e.backend === 'webgpu')).toMatchObject({ fellBack: true, attempts: 1 });
    expect(entries.some((e) => e.reverted)).toBe(true);
  });

  it('refuses a config that could spend more than epsilonPerDay: nothing sealed or sent, one warning, pending() says why', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const server = fakeServer();
    const greedy = defaultTelemetryConfig('tc_greedy', { drift: { epsilon: 10 } });
    const storage = memoryTelemetryStorage();
    const c = collector(server.fetchImpl, { config: greedy, storage });
    c.loaded(model, { cohort: null });
    c.observe('vad', '5.0.0', 'wasm', 2);
    clock += DAY;
    const first = await c.flush();
    const second = await c.flush();
    expect(first.error).toMatch(/tc_greedy lets one report spend ε = 13, over this device's cap telemetry.privacy.epsilonPerDay = 8/);
    expect(second.sent).toBe(0);
    expect(server.telemetryCalls()).toEqual([]);
    expect((await storage.read('demo')).queue).toEqual([]);
    expect(warn).toHaveBeenCalledTimes(1);
    expect((await c.pending()).blocked).toMatch(/nothing is sealed or sent/);
    // A device that allows more takes the same config.
    const generous = collector(server.fetchImpl, { config: greedy, storage, settings: { privacy: { epsilonPerDay: 13 } } });
    expect(await generous.flush()).toEqual({ sent: 1 });
  });

  it('seals nothing before a verified config is known, and says so', async () => {
    let config: TelemetryConfig | null = null;
    const server = fakeServer();
    const c = new TelemetryCollector({
      app: 'demo',
      baseUrl: BASE,
      fetch: server.fetchImpl,
      config: () => config,
      settings: { storage: memoryTelemetryStorage(), autoFlush: false, flushOnPageHide: false, now: () => clock },
    });
    collectors.push(c);
    c.observe('vad', '5.0.0', 'wasm', 2);
    clock += DAY;
    expect(await c.flush()).toEqual({ sent: 0 });
    expect((await c.pending()).blocked).toMatch(/no telemetry config yet/);
    config = defaultTelemetryConfig('tc_late');
    expect(await c.flush()).toEqual({ sent: 1 });
    expect(server.reports()[0]!.config).toBe('tc_late');
  });

  it('drops periods that ended more than max(2 periods, 48 h) ago, unsealed', async () => {
    const server = fakeServer();
    const c = collector(server.fetchImpl);
    c.observe('vad', '5.0.0', 'wasm', 2);
    await c.flush();
    clock += 3 * DAY + 1000; // the period (from the first count) ended 48 h and a second ago
    expect(await c.flush()).toEqual({ sent: 0, dropped: 1 });
    expect(server.telemetryCalls()).toEqual([]);
  });

  it('grants nothing when the clock moves back: a period sealed once is never sealed again', async () => {
    const server = fakeServer();
    const storage = memoryTelemetryStorage();
    const c = collector(server.fetchImpl, { storage });
    c.observe('vad', '5.0.0', 'wasm', 2);
    clock += DAY;
    expect(await c.flush()).toEqual({ sent: 1 });
    const budget = (await storage.read('demo')).budget;
    clock -= DAY; // back into the period just sealed
    await c.flush(); // the collector reads the clock: it is in that period again
    c.observe('vad', '5.0.0', 'wasm', 2);
    expect(await c.flush()).toEqual({ sent: 0, dropped: 1 }); // counts for a sealed period are dropped at once
    clock += DAY;
    expect(await c.flush()).toEqual({ sent: 0 });
    expect(server.reports()).toHaveLength(1);
    expect((await storage.read('demo')).budget).toEqual(budget);
  });

  it('lets two tabs record into one period and seal it once', async () => {
    const server = fakeServer();
    const storage = memoryTelemetryStorage();
    const tabs = [collector(server.fetchImpl, { storage }), collector(server.fetchImpl, { storage })];
    tabs.forEach((tab, i) => {
      for (let n = 0; n <= i; n++) tab.observe('vad', '5.0.0', 'wasm', 2);
    });
    await Promise.all(tabs.map((tab) => tab.flush()));
    expect((await tabs[0]!.pending()).entries).toEqual([expect.objectContaining({ state: 'recording', inferences: 3 })]);
    clock += DAY;
    await Promise.all(tabs.map((tab) => tab.flush()));
    // Without Web Locks both tabs may post the one report (the server drops the replay by id);
    // what matters is that there is one report, and the budget paid once.
    expect(new Set(server.reports().map((r) => r.reportId)).size).toBe(1);
    expect((await storage.read('demo')).budget.spentMicros).toBe(3_000_000);
  });

  it('merges counts into storage every mergeIntervalMs, so another tab (or a reload) sees them', async () => {
    const storage = memoryTelemetryStorage();
    const c = collector(fakeServer().fetchImpl, { storage, settings: { mergeIntervalMs: 100 } });
    c.observe('vad', '5.0.0', 'wasm', 2);
    c.observe('vad', '5.0.0', 'wasm', 2);
    expect((await storage.read('demo')).accumulators).toEqual([]);
    await vi.waitFor(async () => expect((await storage.read('demo')).accumulators.map((a) => a.entry.attempts)).toEqual([2]), { timeout: 2000, interval: 20 });
  });

  it('keeps reports while offline, bounded, and sends them in one batch, oldest first, when back', async () => {
    let online = false;
    const server = fakeServer({
      telemetry: () => {
        if (!online) throw new TypeError('fetch failed');
        return new Response(null, { status: 202 });
      },
    });
    const c = collector(server.fetchImpl, { settings: { maxQueuedReports: 2 } });
    const firstStart = clock;
    const results = [];
    for (let day = 0; day < 3; day++) {
      c.observe('vad', '5.0.0', 'wasm', 2);
      clock += DAY;
      results.push(await c.flush());
    }
    expect(results[0]).toEqual({ sent: 0, error: 'telemetry not delivered, kept for the next flush: the network failed: fetch failed' });
    expect(results[2]).toMatchObject({ sent: 0, dropped: 1 });
    expect((await c.pending()).entries.map((e) => e.state)).toEqual(['queued', 'queued']);
    online = true;
    server.calls.length = 0;
    expect(await c.flush()).toEqual({ sent: 2 });
    expect(server.telemetryCalls()).toHaveLength(1);
    expect(server.reports().map((r) => r.period)).toEqual([Math.floor((firstStart + DAY) / 3_600_000), Math.floor((firstStart + 2 * DAY) / 3_600_000)]);
  });

  it('drops a queued report unsent once its period ended more than max(2 periods, 48 h) ago', async () => {
    let online = false;
    const server = fakeServer({
      telemetry: () => {
        if (!online) throw new TypeError('fetch failed');
        return new Response(null, { status: 202 });
      },
    });
    const c = collector(server.fetchImpl);
    c.observe('vad', '5.0.0', 'wasm', 2);
    clock += DAY;
    expect((await c.flush()).sent).toBe(0); // sealed, not delivered
    online = true;
    clock += 2 * DAY + 1;
    expect(await c.flush()).toEqual({ sent: 0, dropped: 1 });
    expect(server.telemetryCalls()).toHaveLength(1); // only the failed attempt
  });

  it('seals by a timer at the boundary and spreads the send over the next minute', async () => {
    const start = 30_000 * DAY - 10_000;
    vi.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const server = fakeServer();
      const storage = memoryTelemetryStorage();
      const c = collector(server.fetchImpl, { storage, settings: { autoFlush: true, now: () => Date.now(), random: () => 0.5 } });
      await c.loaded(model, { cohort: null });
      c.observe('vad', '5.0.0', 'wasm', 2);
      await vi.advanceTimersByTimeAsync(DAY); // the period (from the first load) ends: sealed, not yet sent
      await vi.waitFor(async () => expect((await storage.read('demo')).queue).toHaveLength(1));
      expect(server.telemetryCalls()).toEqual([]);
      await vi.advanceTimersByTimeAsync(29_000);
      expect(server.telemetryCalls()).toEqual([]);
      await vi.advanceTimersByTimeAsync(2_000); // random 0.5 of a minute
      await vi.waitFor(() => expect(server.reports().map((r) => r.period)).toEqual([Math.floor(start / 3_600_000)]));
    } finally {
      vi.useRealTimers();
    }
  });

  it('honours 429 Retry-After even on an explicit flush, and drops a batch the server refuses', async () => {
    let status = 429;
    const server = fakeServer({ telemetry: () => new Response(null, { status, headers: status === 429 ? { 'Retry-After': '30' } : {} }) });
    const c = collector(server.fetchImpl);
    c.observe('vad', '5.0.0', 'wasm', 2);
    clock += DAY;
    expect((await c.flush()).error).toMatch(/kept for the next flush: the server answered 429/);
    expect((await c.flush()).error).toMatch(/the server asked to wait until/);
    expect(server.telemetryCalls()).toHaveLength(1);
    clock += 31_000;
    status = 400;
    expect(await c.flush()).toEqual({ sent: 0, dropped: 1, error: 'telemetry refused and dropped: the server answered 400' });
    expect((await c.pending()).entries).toEqual([]);
  });

  it('sends nothing exact beyond the report: no credentials, no referrer, a text/plain body that needs no CORS preflight', async () => {
    const server = fakeServer();
    const c = collector(privateFetch(server.fetchImpl));
    await c.loaded(model, { cohort: null, profile: profileRef }, { report: [{ name: 'input.rms', range: [0, 1] }] });
    c.observe('vad', '5.0.0', 'wasm', 2, feeds, outputs);
    clock += DAY;
    await c.flush();
    expect(server.calls.map((call) => call.url)).toEqual([new URL(profileRef.url, BASE).href, 'http://updates.test/v1/apps/demo/telemetry']);
    for (const call of server.calls) expect(call.init).toMatchObject({ credentials: 'omit', referrerPolicy: 'no-referrer' });
    expect(server.telemetryCalls()[0]!.init!.headers).toEqual({ 'Content-Type': 'text/plain;charset=UTF-8' });
  });

  it('fetches no profile for a release that names none (no request, no console error)', async () => {
    const server = fakeServer();
    const c = collector(server.fetchImpl);
    await c.loaded(model, { cohort: null }, { report: [{ name: 'input.rms', range: [0, 1] }] });
    await c.flush();
    expect(server.calls).toEqual([]);
  });
});

describe('TelemetryCollector features', () => {
  async function recorded(report: Parameters<TelemetryCollector['loaded']>[2], run: (c: TelemetryCollector) => void) {
    const storage = memoryTelemetryStorage();
    const c = collector(fakeServer().fetchImpl, { storage });
    await c.loaded(model, { cohort: null, profile: profileRef }, report); // the signed profile is fetched and checked
    run(c);
    await c.flush();
    const [accumulator] = (await storage.read('demo')).accumulators;
    return accumulator!.entry;
  }

  it('counts only the features the app declared that the signed profile lists, clamped into the declared range', async () => {
    const entry = await recorded({ report: [{ name: 'input.rms', range: [0, 0.5] }, { name: 'not-in-profile', range: [0, 1] }] }, (c) => {
      c.observe('vad', '5.0.0', 'wasm', 2, feeds, outputs); // rms of (3, 4) = 3.54, clamped to 0.5
    });
    const cells = entry.features!.cells;
    expect(entry.features!.declared).toEqual([0]);
    // input[300], output.max and output.argmax are in the profile but were not declared: nothing.
    expect(cells.slice(1).every((row) => row.every((n) => n === 0))).toBe(true);
    // 0.5 is in the profile's cell that holds the reference's middle value, not in the overflow cell.
    const edges = profile.numeric[0]!.edges;
    const expectedCell = edges.filter((e) => Math.fround(e) <= Math.fround(0.5)).length;
    expect(cells[0]![expectedCell]).toBe(1);
    expect(cells[0]![edges.length]).toBe(0);
  });

  it('records input features for every attempt and the missing value for outputs of a failed one', async () => {
    const entry = await recorded(
      {
        report: [
          { name: 'input.rms', range: [0, 10] },
          { name: 'output.max', range: [0, 1] },
          { name: 'output.argmax', kind: 'categorical' },
        ],
      },
      (c) => {
        c.observe('vad', '5.0.0', 'wasm', 2, feeds, outputs);
        c.fail('vad', '5.0.0', 'wasm', 'engine', feeds);
      },
    );
    const [rms, , max, argmax] = entry.features!.cells;
    const nanCell = profile.numeric[2]!.edges.length + 1;
    expect(rms!.reduce((a, b) => a + b)).toBe(2);
    expect(rms![rms!.length - 1]).toBe(0); // never NaN: the input was there both times
    expect(max!.reduce((a, b) => a + b)).toBe(2);
    expect(max![nanCell]).toBe(1);
    const vocabulary = profile.categorical[0]!.vocabulary;
    const expected = [0, 0, 0, 1]; // "other" (last cell) for the failed attempt…
    expected[vocabulary.indexOf('1')] = 1; // …and the argmax of (0.1, 0.7, 0.2) once
    expect(argmax).toEqual(expected);
    expect(entry.features!.declared).toEqual([0, 2, 3]);
  });

  it('uses the app-declared value functions', async () => {
    const entry = await recorded({ report: [{ name: 'output.argmax', kind: 'categorical', value: () => '2' }] }, (c) => {
      c.observe('vad', '5.0.0', 'wasm', 2, feeds, outputs);
    });
    const expected = [0, 0, 0, 0];
    expected[profile.categorical[0]!.vocabulary.indexOf('2')] = 1;
    expect(entry.features!.cells[3]).toEqual(expected);
  });

  it('does not use a profile whose bytes are not the signed ones: an event and a warning, no features', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const tampered = profileBytes.slice();
    tampered[tampered.length - 2] = 0x20;
    const events = new EventTarget();
    const rejected: unknown[] = [];
    events.addEventListener('profile-rejected', (event) => rejected.push((event as CustomEvent).detail));
    const storage = memoryTelemetryStorage();
    const c = collector(fakeServer({ profile: () => new Response(tampered) }).fetchImpl, { storage, events });
    await c.loaded(model, { cohort: null, profile: profileRef }, { report: [{ name: 'input.rms', range: [0, 1] }] });
    c.observe('vad', '5.0.0', 'wasm', 2, feeds, outputs);
    await c.flush();
    expect(rejected).toEqual([{ model: 'vad', version: '5.0.0', profile: profileRef.id, error: expect.objectContaining({ code: 'integrity' }) }]);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/reference profile vad@5\/ref1 of vad@5.0.0 was not used/), expect.stringMatching(/sha256 mismatch/));
    expect((await storage.read('demo')).accumulators[0]!.entry.features).toBeNull();
  });

  it('refuses a profile longer than signed without reading past the signed length', async () => {
    const events = new EventTarget();
    const rejected: Array<{ error: { message: string } }> = [];
    events.addEventListener('profile-rejected', (event) => rejected.push((event as CustomEvent).detail));
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const longer = new Uint8Array(profileBytes.byteLength + 10);
    longer.set(profileBytes);
    const c = collector(fakeServer({ profile: () => new Response(longer) }).fetchImpl, { events });
    await c.loaded(model, { cohort: null, profile: profileRef }, { report: [{ name: 'input.rms', range: [0, 1] }] });
    expect(rejected[0]!.error.message).toMatch(/announces|more than/);
  });

  it('refuses privacy: false, which no longer exists', () => {
    expect(() => collector(fakeServer().fetchImpl, { settings: { privacy: false as never } })).toThrow(/privacy: false no longer exists: the server accepts only privatized schema-3 reports/);
  });
});
