import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReferenceProfile, seededRng, type Rng, type TelemetryConfig } from '@edgeloop/telemetry';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from '../../test-support.js';
import { deviceReport, lastPeriod, manifestConfig, type DeviceUse } from '../../testing/telemetry-devices.js';
import { startServer } from '../../server.js';
import { ReportFloor } from '../../telemetry/report-floor.js';
import { TELEMETRY_JOBS } from '../../telemetry/telemetry-jobs.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
let clock = 0;
let server: TestServer;
let config: TelemetryConfig;
let profile: ReferenceProfile;
let rollout: string;
const rng = seededRng(20261203);
/** The first hour of the scenario; views are asked about whole hours from it. */
let h0 = 0;
const iso = (t: number) => new Date(t).toISOString();

function gaussian(r: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
}

async function send(n: number, use: Partial<DeviceUse>): Promise<void> {
  const reports = Array.from({ length: n }, () => deviceReport({ config, period: lastPeriod(config, clock), uses: [{ model: 'vad', version: '5.0.0', ...use }], rng }));
  for (let i = 0; i < reports.length; i += 32) {
    const res = await server.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: JSON.stringify(reports.slice(i, i + 32)) });
    expect(res.status).toBe(202);
  }
}
const release = async (at: number) => {
  clock = at;
  return server.jobs.run(TELEMETRY_JOBS.release);
};
const get = async (path: string) => {
  const res = await server.app.request(`/v1/admin/apps/demo/telemetry/${path}`, { headers: server.auth() });
  expect(res.status).toBe(200);
  return readJson(res);
};
const range = (from: number, to: number, extra = '') => `from=${iso(from)}&to=${iso(to)}${extra}`;

beforeAll(async () => {
  clock = Math.floor(Date.now() / HOUR) * HOUR + 30 * MINUTE;
  h0 = Math.floor(clock / HOUR) * HOUR;
  server = await createTestServer({ now: () => clock, telemetry: { rateLimit: false, sourceLimit: false } });
  for (const [version, bytes] of [['5.0.0', sileroV5], ['6.0.0', sileroV6]] as const) {
    const res = await server.app.request(`/v1/admin/apps/demo/models/vad/versions/${version}`, {
      method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
    });
    expect(res.status).toBe(201);
  }
  const samples = () => Array.from({ length: 4000 }, () => gaussian(rng));
  profile = ReferenceProfile.fromSamples({ id: 'vad@5/ref1', numeric: [{ name: 'rms', values: samples() }, { name: 'zcr', values: samples() }] });
  const put = await server.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0/profile', {
    method: 'PUT', body: JSON.stringify({ profile: profile.toJSON() }), headers: { 'Content-Type': 'application/json', ...server.auth() },
  });
  expect(put.status).toBe(200);
  const started = await server.app.request('/v1/admin/apps/demo/rollouts', {
    method: 'POST', body: JSON.stringify({ model: 'vad', toVersion: '6.0.0', steps: [{ percentage: 50 }] }),
    headers: { 'Content-Type': 'application/json', ...server.auth() },
  });
  rollout = (await readJson(started)).id;
  config = manifestConfig(await readJson(await server.app.request('/v1/apps/demo/manifest')));

  // Hour 0: 30 reports of 5.0.0 on wasm; 3 on webgpu and 3 of the candidate: below the floor.
  await send(30, { failed: 1 });
  await send(3, { backend: 'webgpu' });
  await send(3, { version: '6.0.0', cohort: { rollout, arm: 'candidate', step: 0 } });
  await release(h0 + HOUR + 2 * MINUTE);
  // Hours 1 and 2: 5, then 15 more of 5.0.0 on wasm, released together as [h1, h3).
  clock = h0 + HOUR + 30 * MINUTE;
  await send(5, {});
  clock = h0 + 2 * HOUR + 30 * MINUTE;
  await send(15, {});
  await release(h0 + 3 * HOUR + 2 * MINUTE);
});
afterAll(() => server.dispose());

describe('telemetry views: releases instead of queries', () => {
  it('shows a released cell, and nothing of cells below the floor: no row, no count, no name', async () => {
    const answer = await get(`performance?${range(h0, h0 + HOUR)}`);
    expect(answer).toMatchObject({ app: 'demo', minReports: 20, range: { from: iso(h0), to: iso(h0 + HOUR) } });
    expect(answer).not.toHaveProperty('demo');
    expect(answer.versions).toHaveLength(1);
    expect(answer.versions[0]).toMatchObject({ model: 'vad', version: '5.0.0', backend: 'wasm', reports: 30, span: { from: iso(h0), to: iso(h0 + HOUR) } });
    const text = JSON.stringify([answer, await get(`cohorts?${range(h0, h0 + 3 * HOUR)}`), await get('summary'), await get(`releases?${range(h0, h0 + 3 * HOUR)}`), await get(`drift?${range(h0, h0 + 3 * HOUR)}&byCohort=true`)]);
    expect(text).not.toMatch(/webgpu|6\.0\.0|candidate/);
  });

  it('answers for a version with reports below the floor exactly as for a version that never existed', async () => {
    for (const view of ['performance', 'cohorts', 'drift', 'releases']) {
      const below = await get(`${view}?${range(h0, h0 + 3 * HOUR, '&model=vad&version=6.0.0')}`);
      const never = await get(`${view}?${range(h0, h0 + 3 * HOUR, '&model=vad&version=9.9.9')}`);
      expect(below.notice).toBe(`fewer than 20 reports were released for vad@6.0.0 between ${iso(h0)} and ${iso(h0 + 3 * HOUR)}; nothing is shown below 20`);
      expect({ ...below, notice: below.notice.replace('6.0.0', '9.9.9') }).toEqual(never);
    }
  });

  it('reveals nothing new by differencing two ranges: a range sums whole releases only', async () => {
    const first = await get(`performance?${range(h0, h0 + HOUR)}`);
    // [h0, h2) holds hour 1's five reports, but their release spans [h1, h3): it is left out whole.
    const wider = await get(`performance?${range(h0, h0 + 2 * HOUR)}`);
    expect(wider.versions).toEqual(first.versions);
    const middle = await get(`performance?${range(h0 + HOUR, h0 + 2 * HOUR)}`);
    expect(middle.versions).toEqual([]);
    expect(middle.notice).toMatch(/^fewer than 20 reports were released for any model version between/);
    const all = await get(`performance?${range(h0, h0 + 3 * HOUR)}`);
    expect(all.versions.map((v: { reports: number }) => v.reports)).toEqual([50]);
    const releases = await get(`releases?${range(h0, h0 + 3 * HOUR)}`);
    expect(releases.releases.map((r: { windowFrom: string; windowTo: string; reports: number }) => [r.windowFrom, r.windowTo, r.reports])).toEqual([
      [iso(h0), iso(h0 + HOUR), 30],
      [iso(h0 + HOUR), iso(h0 + 3 * HOUR), 20],
    ]);
  });

  it('reveals nothing new by differencing two views: every view sums the same releases', async () => {
    const r = range(h0, h0 + 3 * HOUR);
    const performance = await get(`performance?${r}`);
    const cohorts = await get(`cohorts?${r}`);
    const summary = await get('summary');
    // Cohorts merge backends: had the three webgpu reports counted anywhere, this would say 53.
    expect(cohorts.cohorts).toEqual([expect.objectContaining({ model: 'vad', version: '5.0.0', cohort: null, reports: 50 })]);
    expect(summary.models).toEqual([expect.objectContaining({ model: 'vad', version: '5.0.0', backend: 'wasm', reports: 50 })]);
    const { model: _m, version: _v, backend: _b, span: _s, ...numbers } = performance.versions[0];
    const { model: _m2, version: _v2, cohort: _c, span: _s2, ...cohortNumbers } = cohorts.cohorts[0];
    expect(cohortNumbers).toEqual(numbers);
    expect(summary.models[0]).toMatchObject({ errored: numbers.errored, latencyP50Ms: numbers.latencyP50Ms, inferences: numbers.inferences });
  });

  it('refuses ranges that are not whole hours or are empty', async () => {
    const bad = await server.app.request(`/v1/admin/apps/demo/telemetry/performance?from=${iso(h0 + MINUTE)}`, { headers: server.auth() });
    expect(bad.status).toBe(400);
    expect((await readJson(bad)).error.message).toMatch(/query field "from": must be a whole hour/);
    const empty = await server.app.request(`/v1/admin/apps/demo/telemetry/performance?${range(h0 + HOUR, h0 + HOUR)}`, { headers: server.auth() });
    expect(empty.status).toBe(400);
  });
});

describe('telemetry views: estimates', () => {
  it('estimates shares, latencies and counts from noised reports within their intervals', async () => {
    const start = h0 + 4 * HOUR;
    clock = start + 30 * MINUTE;
    // 400 devices: half had a failed inference, all ran 40 inferences at 2 ms, a tenth fell back.
    for (let i = 0; i < 400; i++) await send(1, { backend: 'cpu', attempts: 41, failed: i % 2, latencyMs: 2, fellBack: i % 10 === 0 });
    await release(start + HOUR + 2 * MINUTE);
    const [entry] = (await get(`performance?${range(start, start + HOUR)}`)).versions;
    expect(entry).toMatchObject({ backend: 'cpu', reports: 400 });
    const within = (x: { value: number; low: number; high: number }, truth: number) => {
      const halfWidth = Math.max(x.high - x.value, x.value - x.low);
      expect(x.low).toBeLessThanOrEqual(x.value);
      expect(x.high).toBeGreaterThanOrEqual(x.value);
      // Two half-widths: about 4 standard errors, a bound an unbiased estimate misses with p < 1e-4.
      expect(Math.abs(x.value - truth)).toBeLessThanOrEqual(2 * halfWidth);
    };
    within(entry.errored, 0.5);
    within(entry.fellBack, 0.1);
    within(entry.reverted, 0);
    within(entry.inferences, 40);
    const log = (x: { value: number; low: number; high: number }) => ({ value: Math.log2(x.value), low: Math.log2(x.low), high: Math.log2(x.high) });
    within(log(entry.latencyP95Ms), 1); // 2 ms
    expect(entry.errorKinds.none + entry.errorKinds.engine).toBeGreaterThan(0.5);
  });

  it('finds drift in the candidate arm against the profile both arms share, and none in the control arm', async () => {
    const start = h0 + 6 * HOUR;
    clock = start + 30 * MINUTE;
    const rows = (shift: number) => Array.from({ length: 50 }, () => [gaussian(rng) + shift, gaussian(rng)]);
    for (let i = 0; i < 200; i++) {
      await send(1, { backend: 'arm', cohort: { rollout, arm: 'control', step: 0 }, features: { profile, rows: rows(0) } });
      await send(1, { version: '6.0.0', backend: 'arm', cohort: { rollout, arm: 'candidate', step: 0 }, features: { profile, rows: rows(1.5) } });
    }
    await release(start + HOUR + 2 * MINUTE);
    const drift = await get(`drift?${range(start, start + HOUR)}&byCohort=true`);
    const byArm = Object.fromEntries(drift.versions.map((v: { cohort: { arm: string } }) => [v.cohort.arm, v]));
    // 6.0.0 has no profile of its own: it inherits 5.0.0's, so both arms are compared with one reference.
    expect(byArm.candidate).toMatchObject({ version: '6.0.0', profile: 'vad@5/ref1', reports: 200, drift: { verdict: 'drift' } });
    expect(byArm.candidate.drift.features.map((f: { name: string; verdict: string }) => [f.name, f.verdict])).toEqual([['rms', 'drift'], ['zcr', 'no_drift']]);
    expect(byArm.control).toMatchObject({ version: '5.0.0', profile: 'vad@5/ref1', reports: 200, drift: { verdict: 'no_drift' } });
  });
});

describe('the floor outside and inside a demo', () => {
  it('refuses a floor below 20 without the demo flag, or on a host other than loopback', async () => {
    expect(() => new ReportFloor({ minReports: 5 })).toThrow(/minReports 5 is below 20: set telemetry\.demo \(edgeloop serve --telemetry-demo\)/);
    expect(() => new ReportFloor({ minReports: 5, demo: true, host: '0.0.0.0' })).toThrow(/needs a loopback host \(127\.0\.0\.1, ::1 or localhost\), got 0\.0\.0\.0/);
    expect(() => new ReportFloor({ minReports: 5, demo: true })).toThrow(/needs a loopback host .* got none; pass host when calling createApp/);
    expect(new ReportFloor({ minReports: 5, demo: true, host: '::1' })).toMatchObject({ minReports: 5, demo: true });
    expect(new ReportFloor({ minReports: 50 })).toMatchObject({ minReports: 50, demo: false });
    await expect(createTestServer({ telemetry: { minReports: 5 } })).rejects.toThrow(/set telemetry\.demo/);
    const dataDir = join(tmpdir(), `edgeloop-never-${process.pid}`);
    await expect(startServer({ dataDir, host: '0.0.0.0', port: 0, telemetry: { minReports: 2, demo: true } })).rejects.toThrow(/loopback host/);
    expect(existsSync(dataDir)).toBe(false); // refused before anything was opened
  });

  it('a demo server on loopback says demo: true in every telemetry answer, over real HTTP', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-demo-'));
    const logged: string[] = [];
    const demo = await startServer({ dataDir, port: 0, telemetry: { minReports: 2, demo: true }, issueAdminTokenFor: 'demo', log: (m) => logged.push(m) });
    try {
      expect(logged).toContain('*** demo: telemetry is shown from 2 reports instead of 20; never use this setting with real devices ***');
      const deviceConfig = manifestConfig(await (await fetch(new URL('v1/apps/demo/manifest', demo.url))).json());
      const reports = [1, 2].map(() => deviceReport({ config: deviceConfig, period: lastPeriod(deviceConfig, Date.now()), uses: [{ model: 'vad', version: '5.0.0' }] }));
      const sent = await fetch(new URL('v1/apps/demo/telemetry', demo.url), { method: 'POST', body: JSON.stringify(reports), headers: { 'Content-Type': 'text/plain' } });
      expect(sent.status).toBe(202);
      for (const view of ['performance', 'cohorts', 'drift', 'summary', 'releases']) {
        const res = await fetch(new URL(`v1/admin/apps/demo/telemetry/${view}`, demo.url), { headers: { Authorization: `Bearer ${demo.adminToken}` } });
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ minReports: 2, demo: true, notice: expect.stringMatching(/^fewer than 2 reports were released/) });
      }
    } finally {
      await demo.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
