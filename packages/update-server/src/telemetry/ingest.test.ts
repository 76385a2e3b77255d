import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { clippedLaplaceSlack, ReferenceProfile, seededRng, type TelemetryConfig, type TelemetryReport } from '@edgeloop/telemetry';
import type { TelemetryOptions } from '../app.js';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from '../test-support.js';
import { deviceReport, lastPeriod, manifestConfig, type DeviceUse } from '../testing/telemetry-devices.js';
import { fileHour, GRACE_MS, WINDOW_MS } from './window-store.js';

const HOUR = 3_600_000;
/** A fake server clock, moved by the tests (filing is by arrival hour on this clock). */
let clock = 0;
let server: TestServer | undefined;
let config: TelemetryConfig;
/** Most tests share one server (opening one costs seconds); it is emptied of telemetry between them. */
let shared: TestServer;
let rollout: string;

async function start(telemetry: TelemetryOptions = {}): Promise<TestServer> {
  clock = (Math.floor(Date.now() / HOUR) + 0.5) * HOUR;
  const s = (server = await createTestServer({ now: () => clock, telemetry: { rateLimit: false, ...telemetry } }));
  for (const [version, bytes] of [['5.0.0', sileroV5], ['6.0.0', sileroV6]] as const) {
    const res = await s.app.request(`/v1/admin/apps/demo/models/vad/versions/${version}`, {
      method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream', ...s.auth() },
    });
    expect(res.status).toBe(201);
  }
  config = manifestConfig(await readJson(await s.app.request('/v1/apps/demo/manifest')));
  return s;
}

afterEach(async () => {
  await server?.dispose();
  server = undefined;
});

beforeAll(async () => {
  shared = await start({ sourceLimit: false }); // every app.request() comes from one (unknown) address
  server = undefined; // disposed in afterAll, not after each test
  const started = await shared.app.request('/v1/admin/apps/demo/rollouts', {
    method: 'POST', body: JSON.stringify({ model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 10 }, { percentage: 50 }] }),
    headers: { 'Content-Type': 'application/json', ...shared.auth() },
  });
  rollout = (await readJson(started)).id as string;
});
afterAll(() => shared.dispose());

/** The shared server with no telemetry written yet, and the clock at its half hour. */
async function fresh(): Promise<TestServer> {
  await shared.db.query('delete from telemetry_windows');
  await shared.db.query('delete from telemetry_reports');
  clock = (Math.floor(Date.now() / HOUR) + 0.5) * HOUR;
  return shared;
}

const use = (patch: Partial<DeviceUse> = {}): DeviceUse => ({ model: 'vad', version: '5.0.0', ...patch });
const report = (uses: DeviceUse[] = [use()]): TelemetryReport => deviceReport({ config, period: lastPeriod(config, clock), uses, rng: seededRng(uses.length + clock) });
const withEntry = (r: TelemetryReport, patch: object): TelemetryReport => ({ ...r, models: [{ ...r.models[0]!, ...patch }] });
const withHealth = (r: TelemetryReport, patch: object): TelemetryReport => withEntry(r, { health: { ...r.models[0]!.health, ...patch } });

const post = (s: TestServer, body: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
  s.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers });

/** What ingest wrote: window rows and remembered report ids. */
async function written(s: TestServer) {
  const rows = await s.db.query<{ model: string; version: string; backend: string; cohort: string; window_start: Date; reports: number }>(
    'select model, version, backend, cohort, window_start, reports from telemetry_windows order by window_start, model, version, backend, cohort',
  );
  const ids = await s.db.query<{ n: string | number }>('select count(*) as n from telemetry_reports');
  return { rows: rows.map((r) => ({ ...r, window_start: r.window_start.toISOString(), reports: Number(r.reports) })), ids: Number(ids[0]!.n) };
}

async function refused(s: TestServer, body: unknown, message: RegExp): Promise<void> {
  const before = await written(s);
  const res = await post(s, body);
  expect(res.status).toBe(400);
  const error = (await readJson(res)).error;
  expect(error.code).toBe('bad_request');
  expect(error.message).toMatch(message);
  expect(await written(s)).toEqual(before); // refused before anything is written
}

describe('telemetry ingest: admission', () => {
  it('admits a report made under the signed config, and a validly noised value however far off, negative included', async () => {
    const s = await fresh();
    const r = report();
    const slack = clippedLaplaceSlack(128, config.health.latencyP95.epsilon);
    const res = await post(s, withHealth(r, { latencyP95: -slack, inferences: 100 + clippedLaplaceSlack(100, config.health.inferences.epsilon) }));
    expect(res.status).toBe(202);
    expect(await readJson(res)).toEqual({ accepted: true });
    expect((await written(s)).rows).toEqual([{ model: 'vad', version: '5.0.0', backend: 'wasm', cohort: 'none', window_start: new Date(Math.floor(clock / HOUR) * HOUR).toISOString(), reports: 1 }]);
  });

  it('refuses every report whose privacy parameters or values the signed config cannot produce, each with its reason', async () => {
    const s = await fresh();
    const r = report();
    await refused(s, { ...r, schema: 2 }, /schema 2 is no longer accepted: .*update @edgeloop\/runtime/);
    await refused(s, { ...r, config: 'tc_0000000000000000' }, /config: "tc_0000000000000000" is not a telemetry config this server issued in the last 7 days; fetch the manifest again/);
    await refused(s, { ...r, epsilon: 80 }, new RegExp(`epsilon: config ${config.id} gives this report ε = 3, but it declares 80; privacy parameters come from the signed config only`));
    // A forged clip: a latency clipped to a wider range than the config's, beyond what its noise produces.
    const slack = clippedLaplaceSlack(128, config.health.latencyP95.epsilon);
    await refused(s, withHealth(r, { latencyP95: 128 + slack + 1 }), new RegExp(`models\\.0\\.health\\.latencyP95: \\d+ is outside \\[-\\d+, \\d+\\], beyond what ε = ${config.health.latencyP95.epsilon} noise on \\[0, 128\\] produces`));
    await refused(s, withHealth(r, { inferences: -clippedLaplaceSlack(100, config.health.inferences.epsilon) - 1 }), new RegExp(`models\\.0\\.health\\.inferences: .* beyond what ε = ${config.health.inferences.epsilon} noise`));
    await refused(s, withHealth(r, { errored: 2 }), /models\.0\.health\.errored/);
    await refused(s, withHealth(r, { errorKind: 6 }), /models\.0\.health\.errorKind: must be an index below 6/);
    await refused(s, withEntry(r, { counters: { retries: 1 } }), /models\.0\.counters: must carry exactly the config's counters \[\]/);
    await refused(s, { ...r, models: Array.from({ length: 5 }, (_, i) => ({ ...r.models[0]!, backend: `b${i}` })), epsilon: 3 }, /models: at most 4 entries under config/);
  });

  it('refuses periods out of the window, judged by the server clock', async () => {
    const s = await fresh();
    const r = report();
    // `period` is the hour the period started: a day-long period must have ended, and be recent.
    await refused(s, { ...r, period: r.period - 3 * 24 }, new RegExp(`a period starting at hour ${r.period - 3 * 24} is too old: reports more than 48 h after their period are refused`));
    await refused(s, { ...r, period: r.period + 3 }, new RegExp(`a period starting at hour ${r.period + 3} has not ended yet by the server's clock; check the device clock`));
  });

  it('refuses unpublished models and versions, unknown rollouts and steps, and NUL bytes, with 400 before writing anything', async () => {
    const s = await fresh();
    const r = report();
    await refused(s, withEntry(r, { version: '9.9.9' }), /models\.0\.version: vad@9\.9\.9 is not a published version of app "demo"/);
    await refused(s, withEntry(r, { model: 'ghost' }), /ghost@5\.0\.0 is not a published version/);
    await refused(s, withEntry(r, { version: '5.0.0\u0000x' }), /models\.0\.version: use 1–64 letters/);
    await refused(s, withEntry(r, { backend: 'wasm\u0000' }), /models\.0\.backend: use 1–32 lowercase letters/);
    await refused(s, withEntry(r, { cohort: { rollout: 'ro_000000000000', arm: 'candidate', step: 0 } }), /models\.0\.cohort\.rollout: "ro_000000000000" is not a rollout of vad/);
    await refused(s, withEntry(r, { cohort: { rollout, arm: 'candidate', step: 2 } }), new RegExp(`rollout ${rollout} has 2 steps, got step 2`));
    expect((await post(s, withEntry(r, { version: '6.0.0', cohort: { rollout, arm: 'candidate', step: 1 } }))).status).toBe(202);
  });

  it('creates no row for 20 requests naming unpublished versions (each request 4 entries)', async () => {
    const s = await fresh();
    for (let i = 0; i < 20; i++) {
      const uses = Array.from({ length: 4 }, (_, j) => use({ version: `7.${i}.${j}` }));
      expect((await post(s, report(uses))).status).toBe(400);
    }
    expect(await written(s)).toEqual({ rows: [], ids: 0 });
  });

  it('checks summaries against the version’s signed profile: refuses a feature or cell it does not have, ignores one cut on another profile', async () => {
    const s = await fresh();
    const rng = seededRng(3);
    const values = () => Array.from({ length: 2000 }, () => rng.next());
    const profile = ReferenceProfile.fromSamples({ id: 'vad@5/ref1', numeric: [{ name: 'rms', values: values() }, { name: 'zcr', values: values() }] });
    const put = await s.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0/profile', {
      method: 'PUT', body: JSON.stringify({ profile: profile.toJSON() }), headers: { 'Content-Type': 'application/json', ...s.auth() },
    });
    expect(put.status).toBe(200);
    const r = report([use({ features: { profile, rows: Array.from({ length: 50 }, () => [rng.next(), rng.next()]) } })]);
    expect(r.models[0]!.summary).toMatchObject({ profile: 'vad@5/ref1' });
    const cells = profile.cellCounts();
    // A device can only report features the app declared; an index the profile does not have is refused.
    await refused(s, withEntry(r, { summary: { profile: 'vad@5/ref1', feature: 2, cell: 0 } }), /models\.0\.summary\.feature: profile vad@5\/ref1 has 2 features/);
    await refused(s, withEntry(r, { summary: { profile: 'vad@5/ref1', feature: 0, cell: cells[0]! } }), new RegExp(`feature 0 of profile vad@5/ref1 has ${cells[0]} cells`));
    const stale = await post(s, withEntry(r, { summary: { profile: 'vad@5/ref0', feature: 0, cell: 0 } }));
    expect(stale.status).toBe(202);
    expect(await readJson(stale)).toEqual({ accepted: true, ignoredSummaries: 1 });
    expect((await post(s, r)).status).toBe(202);
  });
});

describe('telemetry ingest: writes', () => {
  it('counts a report id once, also repeated within a batch, and a replay changes nothing', async () => {
    const s = await fresh();
    const a = report();
    const res = await post(s, [a, report(), a]);
    expect(res.status).toBe(202);
    expect(await readJson(res)).toEqual({ results: [{ accepted: true }, { accepted: true }, { accepted: false }] });
    const before = await written(s);
    expect(before.rows[0]!.reports).toBe(2);
    expect(await readJson(await post(s, a))).toEqual({ accepted: false });
    expect(await written(s)).toEqual(before);
    expect((await post(s, [])).status).toBe(400);
    expect((await post(s, Array.from({ length: 33 }, () => a))).status).toBe(400);
  });

  it('files each report in the hour it arrived (server clock), whatever period it describes', async () => {
    const s = await fresh();
    const hour = Math.floor(clock / HOUR) * HOUR;
    const older = { ...report(), period: lastPeriod(config, clock) - 1 };
    expect((await post(s, older)).status).toBe(202);
    clock += HOUR; // the next hour, same period
    expect((await post(s, report())).status).toBe(202);
    expect((await written(s)).rows.map((r) => [r.window_start, r.reports])).toEqual([
      [new Date(hour).toISOString(), 1],
      [new Date(hour + HOUR).toISOString(), 1],
    ]);
  });

  it('files a report whose hour closed while it waited into the current hour: a closed hour never changes', () => {
    const hour = 1_000 * WINDOW_MS;
    expect(fileHour(hour + WINDOW_MS - 1, hour + WINDOW_MS + GRACE_MS - 1)).toBe(hour);
    expect(fileHour(hour + WINDOW_MS - 1, hour + WINDOW_MS + GRACE_MS)).toBe(hour + WINDOW_MS);
  });

  it('keys rows by model, version, backend and cohort (rollout, arm, step)', async () => {
    const s = await fresh();
    // A device reports one entry per model (the release it ran last): three devices, three rows.
    expect((await post(s, report([use()]))).status).toBe(202);
    expect((await post(s, report([use({ version: '6.0.0', backend: 'webgpu', cohort: { rollout, arm: 'candidate', step: 0 } })]))).status).toBe(202);
    expect((await post(s, report([use({ cohort: { rollout, arm: 'control', step: 0 } })]))).status).toBe(202);
    expect((await written(s)).rows.map((r) => `${r.version}/${r.backend}/${r.cohort}/${r.reports}`).sort()).toEqual([
      '5.0.0/wasm/none/1',
      `5.0.0/wasm/${rollout}:control:0/1`,
      `6.0.0/webgpu/${rollout}:candidate:0/1`,
    ]);
  });
});

describe('telemetry ingest: limits', () => {
  it('admits at most 16 reports per source address per app per hour; other sources go on', async () => {
    let address = '10.0.0.1';
    const s = await start({ clientAddress: () => address });
    for (let i = 0; i < 16; i++) expect((await post(s, report())).status).toBe(202);
    const limited = await post(s, report());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('225');
    expect((await readJson(limited)).error.message).toMatch(/this source sent more than 16 telemetry reports for app "demo" in the last hour; retry in 225 s/);
    address = '10.0.0.2';
    expect((await post(s, report())).status).toBe(202);
    address = '10.0.0.1';
    clock += 225_000; // one report's worth of time
    expect((await post(s, report())).status).toBe(202);
    expect((await post(s, report())).status).toBe(429);
  });

  it('rate-limits requests per app and client address with 429 and Retry-After', async () => {
    let address = '10.0.0.1';
    const s = await start({ rateLimit: { capacity: 3, refillPerSecond: 0.5 }, clientAddress: () => address });
    for (let i = 0; i < 3; i++) expect((await post(s, report())).status).toBe(202);
    const limited = await post(s, report());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect((await readJson(limited)).error.code).toBe('rate_limited');
    address = '10.0.0.2';
    expect((await post(s, report())).status).toBe(202);
    expect((await post(s, [report(), report(), report()])).status).toBe(429); // a batch pays one token per report
  });

  it('answers 503 with Retry-After when too many requests are in flight, and recovers', async () => {
    const s = await start({ maxInFlight: 2, batch: { maxDelayMs: 50 } });
    const waiting = [post(s, report()), post(s, report())];
    await new Promise((resolve) => setTimeout(resolve, 10));
    const refusedNow = await post(s, report());
    expect(refusedNow.status).toBe(503);
    expect(refusedNow.headers.get('retry-after')).toBe('1');
    expect((await Promise.all(waiting)).map((r) => r.status)).toEqual([202, 202]);
    expect(s.ingest.inFlight).toBe(0);
    expect((await post(s, report())).status).toBe(202);
  });

  it('answers 503 when the write queue is full instead of buffering without bound', async () => {
    const s = await start({ batch: { maxQueued: 3, maxDelayMs: 50 } });
    const first = post(s, [report(), report()]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const full = await post(s, [report(), report()]);
    expect(full.status).toBe(503);
    expect((await readJson(full)).error.code).toBe('overloaded');
    expect((await first).status).toBe(202);
    expect((await written(s)).ids).toBe(2);
  });
});

describe('telemetry ingest over real HTTP on loopback', () => {
  it('answers 413 to an oversized chunked body without a Content-Length', async () => {
    const s = await fresh();
    const http = serve({ fetch: s.app.fetch, port: 0, hostname: '127.0.0.1' });
    try {
      await new Promise<void>((resolve) => http.once('listening', resolve));
      const { port } = http.address() as AddressInfo;
      const chunked = (chunks: number) =>
        new Promise<{ status: number; body: string; chunkedSent: boolean }>((resolve, reject) => {
          const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/apps/demo/telemetry', headers: { 'Content-Type': 'application/json' } });
          req.on('response', (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ status: res.statusCode!, body, chunkedSent: req.getHeader('transfer-encoding') === 'chunked' || !req.getHeader('content-length') }));
          });
          req.on('error', reject);
          for (let i = 0; i < chunks; i++) req.write('x'.repeat(16 * 1024));
          req.end();
        });
      const big = await chunked(5); // 80 KiB > 64 KiB
      expect(big.chunkedSent).toBe(true);
      expect(big.status).toBe(413);
      expect(JSON.parse(big.body).error.code).toBe('payload_too_large');
      expect((await chunked(1)).status).toBe(400); // within the limit: read, then refused as bad JSON
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('takes a report sent as text/plain (no preflight), and answers with CORS headers on success and on refusals', async () => {
    const s = await fresh();
    const http = serve({ fetch: s.app.fetch, port: 0, hostname: '127.0.0.1' });
    try {
      await new Promise<void>((resolve) => http.once('listening', resolve));
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/v1/apps/demo/telemetry`;
      const send = (body: string, type = 'text/plain;charset=UTF-8') => fetch(url, { method: 'POST', body, headers: { 'Content-Type': type, Origin: 'https://kiosk.example' } });
      const ok = await send(JSON.stringify(report()));
      expect(ok.status).toBe(202);
      expect(ok.headers.get('access-control-allow-origin')).toBe('*');
      expect(await ok.json()).toEqual({ accepted: true });
      const noType = await fetch(url, { method: 'POST', body: new Blob([JSON.stringify(report())]) });
      expect(noType.status).toBe(202);
      const bad = await send(JSON.stringify(withEntry(report(), { version: '9.9.9' })), 'application/json');
      expect(bad.status).toBe(400);
      expect(bad.headers.get('access-control-allow-origin')).toBe('*');
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/not a published version/);
      const big = await send(JSON.stringify({ pad: 'x'.repeat(70 * 1024) }));
      expect(big.status).toBe(413);
      expect(big.headers.get('access-control-allow-origin')).toBe('*');
      const preflight = await fetch(url, { method: 'OPTIONS', headers: { Origin: 'https://kiosk.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
      expect(preflight.status).toBe(204);
      expect((await written(s)).ids).toBe(2);
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
