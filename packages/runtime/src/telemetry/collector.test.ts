import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseReport, ReferenceProfile, type TelemetryReport, type TelemetryReportV2 } from '@edgeloop/telemetry';
import { tensor, type Feeds, type Outputs } from '../engine/tensor.js';
import { TelemetryCollector, type TelemetryOptions } from './collector.js';
import { memoryTelemetryStorage } from './telemetry-storage.js';

const HOUR = 3_600_000;

/** A fetch that answers from `reply` and records every request. */
function fakeServer(reply: (url: string, body: string | undefined) => Response | Promise<Response> = () => new Response(null, { status: 202 })) {
  const calls: Array<{ url: string; body: string | undefined; init: RequestInit | undefined }> = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const body = init?.body as string | undefined;
    calls.push({ url, body, init });
    return reply(url, body);
  }) as typeof fetch;
  const reports = () =>
    calls
      .filter((c) => c.url.endsWith('/telemetry'))
      .flatMap((c) => {
        const parsed: unknown = JSON.parse(c.body!);
        return (Array.isArray(parsed) ? parsed : [parsed]).map((r) => parseReport(r) as TelemetryReportV2);
      });
  return { fetchImpl, calls, reports };
}

let clock = Date.UTC(2026, 10, 25, 12, 0, 0);
const collectors: TelemetryCollector[] = [];
function collector(fetchImpl: typeof fetch, settings: TelemetryOptions = {}): TelemetryCollector {
  const c = new TelemetryCollector({
    app: 'demo',
    baseUrl: new URL('http://updates.test/'),
    fetch: fetchImpl,
    settings: { storage: memoryTelemetryStorage(), autoFlush: false, flushOnPageHide: false, now: () => clock, ...settings },
  });
  collectors.push(c);
  return c;
}
afterEach(() => {
  collectors.splice(0).forEach((c) => c.dispose());
  vi.unstubAllGlobals();
});

const profile = ReferenceProfile.fromSamples({
  id: 'vad@5/ref',
  numeric: [
    { name: 'x.mean', values: Array.from({ length: 1000 }, (_, i) => i / 1000) },
    { name: 'x[0]', values: Array.from({ length: 1000 }, (_, i) => i / 1000) },
    { name: 'y.max', role: 'output', values: Array.from({ length: 1000 }, (_, i) => i / 1000) },
  ],
  categorical: [{ name: 'y.argmax', role: 'output', values: ['0', '1', '1', '2'] }],
});
const model = { name: 'vad', version: '5.0.0', backend: 'wasm', timings: { loadMs: 120 } };
const feeds: Feeds = { x: tensor('float32', Float32Array.of(0.2, 0.4), [2]) };
const outputs: Outputs = { y: tensor('float32', Float32Array.of(0.1, 0.7, 0.2), [3]) };

describe('TelemetryCollector', () => {
  it('seals one report per window with cohort, load, first-inference latency, error kinds, events and privatized summaries', async () => {
    const server = fakeServer();
    const c = collector(server.fetchImpl);
    c.loaded(model, { rollout: 'ro_0123456789ab', arm: 'candidate' }, { profile });
    for (let i = 0; i < 30; i++) c.observe('vad', '5.0.0', 'wasm', i === 0 ? 40 : 2, feeds, outputs);
    c.fail('vad', '5.0.0', 'wasm', 'engine');
    c.event('vad', '5.0.0', 'backend-lost', 'webgpu');
    expect(await c.flush()).toEqual({ sent: 2 });
    const [report] = server.reports();
    const wasm = report!.models.find((m) => m.backend === 'wasm')!;
    expect(wasm).toMatchObject({ inferences: 30, errors: 1, errorKinds: { engine: 1 }, cohort: { rollout: 'ro_0123456789ab', arm: 'candidate' } });
    expect(wasm.loadMs!.max).toBe(120);
    expect(wasm.firstInferenceMs!.max).toBe(40);
    expect(report!.models.find((m) => m.backend === 'webgpu')).toMatchObject({ inferences: 0, events: { 'backend-lost': 1 } });
    const { summaries } = wasm;
    expect(summaries).toMatchObject({ profile: 'vad@5/ref', totals: [30, 30, 30, 30], privacy: { mechanism: 'discrete_laplace', epsilon: 4, clip: 100 } });
    expect(summaries!.cells.map((cells) => cells.length)).toEqual(profile.cellCounts());
  });

  it('sends summaries once per model version and window: a second flush carries counts only, the features wait', async () => {
    const server = fakeServer();
    const c = collector(server.fetchImpl, { privacy: false });
    c.loaded(model, null, { profile });
    c.observe('vad', '5.0.0', 'wasm', 1, feeds, outputs);
    await c.flush();
    c.observe('vad', '5.0.0', 'wasm', 1, feeds, outputs);
    await c.flush(); // raw counts need no budget, so this one goes out too
    const budgeted = collector(server.fetchImpl);
    budgeted.loaded(model, null, { profile });
    budgeted.observe('vad', '5.0.0', 'wasm', 1, feeds, outputs);
    await budgeted.flush();
    budgeted.observe('vad', '5.0.0', 'wasm', 1, feeds, outputs);
    await budgeted.flush();
    clock += HOUR;
    budgeted.observe('vad', '5.0.0', 'wasm', 1, feeds, outputs);
    await budgeted.flush();
    const [raw1, raw2, first, second, third] = server.reports().map((r) => r.models[0]!.summaries);
    expect(raw1!.totals).toEqual([1, 1, 1, 1]);
    expect(raw2!.totals).toEqual([1, 1, 1, 1]);
    expect(first!.totals).toEqual([1, 1, 1, 1]);
    expect(second).toBeUndefined();
    // The held-back inference is sent with the next window's.
    expect(third!.totals).toEqual([2, 2, 2, 2]);
  });

  it('queues reports while offline, bounded, and sends them in one batch, oldest first, when back', async () => {
    let online = false;
    const server = fakeServer(() => {
      if (!online) throw new TypeError('fetch failed');
      return new Response(null, { status: 202 });
    });
    const c = collector(server.fetchImpl, { maxQueuedReports: 3 });
    const flushes = [];
    for (let i = 1; i <= 5; i++) {
      c.observe('vad', '5.0.0', 'wasm', i);
      flushes.push(await c.flush());
    }
    expect(flushes[0]).toEqual({ sent: 0, error: 'telemetry not delivered, kept for the next flush: the network failed: fetch failed' });
    expect(flushes[3]).toMatchObject({ sent: 0, dropped: 1 });
    expect(c.pending()).toEqual([{ model: 'vad', version: '5.0.0', backend: 'wasm', inferences: 3, errors: 0 }]);
    online = true;
    server.calls.length = 0;
    expect(await c.flush()).toEqual({ sent: 3 });
    expect(server.calls).toHaveLength(1);
    expect(server.reports().map((r) => r.models[0]!.latencyMs.max)).toEqual([3, 4, 5]);
    expect(c.pending()).toEqual([]);
  });

  it('honours 429 + Retry-After, drops a batch on other 4xx and keeps it on 5xx', async () => {
    let status = 429;
    const server = fakeServer(() => new Response(null, { status, headers: status === 429 ? { 'Retry-After': '30' } : {} }));
    const c = collector(server.fetchImpl);
    c.observe('vad', '5.0.0', 'wasm', 1);
    expect((await c.flush()).error).toMatch(/kept for the next flush: the server answered 429/);
    status = 202;
    const early = await c.flush();
    expect(early.error).toMatch(/the server asked to wait until/);
    expect(server.calls).toHaveLength(1);
    clock += 31_000;
    expect(await c.flush()).toEqual({ sent: 1 });

    status = 503;
    c.observe('vad', '5.0.0', 'wasm', 1);
    expect((await c.flush()).error).toMatch(/kept for the next flush: the server answered 503/);
    status = 400;
    expect(await c.flush()).toEqual({ sent: 0, error: 'telemetry refused and dropped: the server answered 400', dropped: 1 });
    expect(c.pending()).toEqual([]);
  });

  it('drops reports older than the server accepts instead of sending them', async () => {
    const server = fakeServer(() => {
      throw new TypeError('offline');
    });
    const c = collector(server.fetchImpl);
    c.observe('vad', '5.0.0', 'wasm', 1);
    await c.flush();
    clock += 24 * HOUR;
    expect(await c.flush()).toEqual({ sent: 0, dropped: 1 });
  });

  it('retries failures on a timer with exponential backoff', async () => {
    vi.useFakeTimers({ now: clock, toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let failures = 2;
      const server = fakeServer(() => (failures-- > 0 ? new Response(null, { status: 503 }) : new Response(null, { status: 202 })));
      const c = collector(server.fetchImpl, { autoFlush: true, random: () => 0, retry: { initialMs: 1000, maxMs: 60_000 } });
      c.observe('vad', '5.0.0', 'wasm', 1);
      await c.flush();
      expect(server.calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(499); // first retry after d/2 = 500 ms with random() = 0
      expect(server.calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(server.calls).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(999); // second after 1000 ms
      expect(server.calls).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(1);
      expect(server.calls).toHaveLength(3);
      expect(c.pending()).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('flushes with keepalive when the page is hidden', async () => {
    const doc = Object.assign(new EventTarget(), { visibilityState: 'visible' });
    vi.stubGlobal('document', doc);
    const server = fakeServer();
    const c = collector(server.fetchImpl, { flushOnPageHide: true });
    c.observe('vad', '5.0.0', 'wasm', 1);
    doc.visibilityState = 'hidden';
    doc.dispatchEvent(new Event('visibilitychange'));
    await vi.waitFor(() => expect(server.calls).toHaveLength(1));
    expect(server.calls[0]!.init!.keepalive).toBe(true);
    c.dispose();
    c.observe('vad', '5.0.0', 'wasm', 1);
    doc.dispatchEvent(new Event('visibilitychange'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(server.calls).toHaveLength(1);
  });

  it('fetches the reference profile the server publishes, and records nothing against a version without one', async () => {
    const server = fakeServer((url) => {
      if (url.endsWith('/versions/5.0.0/profile')) return Response.json(profile.toJSON());
      if (url.endsWith('/profile')) return new Response(null, { status: 404 });
      return new Response(null, { status: 202 });
    });
    const c = collector(server.fetchImpl, { privacy: false });
    c.loaded(model, null);
    c.loaded({ ...model, version: '6.0.0' }, null);
    await vi.waitFor(() => expect(server.calls).toHaveLength(2));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(server.calls.map((call) => call.url)).toContain('http://updates.test/v1/apps/demo/models/vad/versions/5.0.0/profile');
    c.observe('vad', '5.0.0', 'wasm', 1, feeds, outputs);
    c.observe('vad', '6.0.0', 'wasm', 1, feeds, outputs);
    await c.flush();
    const models = server.reports()[0]!.models;
    // Default extractor by name: x.mean = 0.3, x[0] = 0.2, y.max = 0.7, y.argmax = "1".
    const summaries = models.find((m) => m.version === '5.0.0')!.summaries!;
    const cellOf = (feature: number, value: number) => [-Infinity, ...profile.numeric[feature]!.edges].filter((e) => value >= e).length - 1;
    expect(summaries.cells[0]![cellOf(0, 0.3)]).toBe(1);
    expect(summaries.cells[1]![cellOf(1, 0.2)]).toBe(1);
    expect(summaries.cells[2]![cellOf(2, 0.7)]).toBe(1);
    expect(summaries.cells[3]![profile.categorical[0]!.vocabulary.indexOf('1')]).toBe(1);
    expect(models.find((m) => m.version === '6.0.0')!.summaries).toBeUndefined();
  });

  it('uses app extractors, and a throwing one never breaks inference: it is switched off and counted', async () => {
    const server = fakeServer();
    const c = collector(server.fetchImpl, { privacy: false });
    const out = { features: (_: Feeds, buffer: Float64Array) => buffer.fill(0.9), outputs: (_: Outputs, buffer: Float64Array) => buffer.fill(0.1), classes: () => ['2'] };
    c.loaded(model, null, { profile, ...out });
    c.observe('vad', '5.0.0', 'wasm', 1, feeds, outputs);
    c.loaded({ ...model, version: '6.0.0' }, null, { profile: ReferenceProfile.fromJSON({ ...profile.toJSON(), id: 'v6' }), features: () => [1] });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(() => c.observe('vad', '6.0.0', 'wasm', 1, feeds, outputs)).not.toThrow();
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/feature extraction for vad@6\.0\.0 failed/), expect.any(RangeError));
    warn.mockRestore();
    await c.flush();
    const models = server.reports()[0]!.models;
    const v5 = models.find((m) => m.version === '5.0.0')!.summaries!;
    expect(v5.cells[0]![v5.cells[0]!.length - 3]).toBe(0); // 0.9 sits inside the last bin, not overflow
    expect(v5.cells[3]![profile.categorical[0]!.vocabulary.indexOf('2')]).toBe(1);
    expect(models.find((m) => m.version === '6.0.0')).toMatchObject({ inferences: 1, events: { 'feature-extractor-failed': 1 } });
  });

  it('keeps every report valid for the server, for any mix of calls', async () => {
    const server = fakeServer();
    const c = collector(server.fetchImpl);
    c.loaded(model, null, { profile });
    for (let i = 0; i < 200; i++) {
      if (i % 7 === 0) c.fail('vad', '5.0.0', i % 2 ? 'wasm' : 'webgpu', i % 3 ? 'engine' : 'Not A Code!');
      else c.observe('vad', '5.0.0', i % 2 ? 'wasm' : 'webgpu', i / 10, feeds, outputs);
      if (i % 50 === 49) await c.flush();
    }
    const reports: TelemetryReport[] = server.reports();
    expect(reports).toHaveLength(4);
    expect(reports.flatMap((r) => r.models).reduce((n, m) => n + m.inferences + m.errors, 0)).toBe(200);
    expect(reports.flatMap((r) => r.models).some((m) => (m as { errorKinds?: Record<string, number> }).errorKinds?.['other'])).toBe(true);
  });
});

describe('TelemetryCollector windows', () => {
  it('seals the window that ended when the next one starts, and leaves the new one open', async () => {
    const server = fakeServer();
    const c = collector(server.fetchImpl, { autoFlush: true, privacy: false });
    c.loaded(model, null, { profile });
    c.observe('vad', '5.0.0', 'wasm', 1, feeds, outputs);
    clock += HOUR;
    c.observe('vad', '5.0.0', 'wasm', 2, feeds, outputs);
    await vi.waitFor(() => expect(server.reports()).toHaveLength(1));
    const [first] = server.reports();
    expect(first!.models[0]).toMatchObject({ inferences: 1, latencyMs: { max: 1 } });
    expect(c.pending()).toEqual([{ model: 'vad', version: '5.0.0', backend: 'wasm', inferences: 1, errors: 0 }]);
    await c.flush();
    expect(server.reports()[1]!.models[0]).toMatchObject({ inferences: 1, latencyMs: { max: 2 } });
  });
});
