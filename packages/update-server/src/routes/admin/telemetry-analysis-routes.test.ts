import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FeatureRecorder,
  LatencyHistogram,
  privatizeSummaries,
  ReferenceProfile,
  seededRng,
  type Rng,
  type TelemetryReport,
} from '@edgeloop/telemetry';
import { createTestServer, readJson, sileroV5, type TestServer } from '../../test-support.js';

let server: TestServer;
const rng = seededRng(42);

function normal(r: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - r.next())) * Math.cos(2 * Math.PI * r.next());
}

const req = (path: string, init: RequestInit = {}, token?: string) =>
  server.app.request(path, { ...init, headers: { 'Content-Type': 'application/json', ...server.auth(token), ...(init.headers as Record<string, string>) } });

const PROFILE_URL = '/v1/admin/apps/demo/models/vad/versions/5.0.0/profile';

/** One device's report for one window: 50 inferences of two features, `shift` σ off the reference. */
function deviceReport(profile: ReferenceProfile, shift: number, arm: 'candidate' | 'control'): TelemetryReport {
  const recorder = new FeatureRecorder(profile);
  const latency = new LatencyHistogram();
  const features = new Float64Array(2);
  for (let i = 0; i < 50; i++) {
    features[0] = normal(rng) + shift;
    features[1] = normal(rng);
    recorder.record(features);
    latency.record(arm === 'candidate' ? 4 + rng.next() : 2 + rng.next());
  }
  return {
    schema: 2,
    reportId: crypto.randomUUID(),
    app: 'demo',
    sentAt: new Date().toISOString(),
    models: [
      {
        model: 'vad', version: '5.0.0', backend: 'wasm', inferences: 50, errors: 0, latencyMs: latency.toJSON(),
        cohort: { rollout: 'ro_0123456789ab', arm },
        summaries: privatizeSummaries(recorder.drain(), { rng }),
      },
    ],
  };
}

const ingest = (reports: TelemetryReport[]) =>
  server.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: JSON.stringify(reports), headers: { 'Content-Type': 'application/json' } });

describe('admin telemetry analysis', () => {
  let profile: ReferenceProfile;

  beforeAll(async () => {
    server = await createTestServer({ telemetry: { rateLimit: false } });
    const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', {
      method: 'POST', body: sileroV5, headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
    });
    expect(res.status).toBe(201);
  });
  afterAll(async () => {
    await server.dispose();
  });

  it('computes a reference profile from uploaded samples and publishes it to devices, cacheable', async () => {
    const values = (n: number) => Array.from({ length: n }, () => normal(rng));
    const samples = { id: 'vad@5/ref1', bins: 10, numeric: [{ name: 'rms', values: values(5000) }, { name: 'zcr', values: values(5000) }] };
    const res = await req(PROFILE_URL, { method: 'PUT', body: JSON.stringify({ samples }) });
    expect(res.status).toBe(200);
    const stored = await readJson(res);
    expect(stored).toMatchObject({ profile: 'vad@5/ref1', url: '/v1/apps/demo/models/vad/versions/5.0.0/profile' });

    const published = await server.app.request(stored.url);
    expect(published.status).toBe(200);
    expect(published.headers.get('cache-control')).toMatch(/public, max-age=\d+/);
    expect(published.headers.get('etag')).toBe(stored.etag);
    profile = ReferenceProfile.fromJSON(await published.json());
    expect(profile.numeric.map((f) => [f.name, f.edges.length])).toEqual([['rms', 9], ['zcr', 9]]);
    expect((await server.app.request(stored.url, { headers: { 'If-None-Match': stored.etag } })).status).toBe(304);

    // Same id, other content: refused, since reports name the profile they were cut on.
    const clash = await req(PROFILE_URL, { method: 'PUT', body: JSON.stringify({ samples: { ...samples, numeric: samples.numeric.slice(0, 1) } }) });
    expect(clash.status).toBe(409);
    const missing = await server.app.request('/v1/apps/demo/models/vad/versions/9.9.9/profile');
    expect(missing.status).toBe(404);
    // Cacheable like a profile, so devices do not ask again on every load.
    expect(missing.headers.get('cache-control')).toBe('public, max-age=300');
    expect((await missing.json()) as unknown).toMatchObject({ error: { code: 'not_found' } });
    expect((await req('/v1/admin/apps/demo/models/vad/versions/9.9.9/profile', { method: 'PUT', body: JSON.stringify({ samples }) })).status).toBe(404);
    const invalid = await req(PROFILE_URL, { method: 'PUT', body: JSON.stringify({ profile: { ...profile.toJSON(), id: 'x', numeric: [{ ...profile.toJSON().numeric[0], edges: [2, 1] }] } }) });
    expect(invalid.status).toBe(400);
  });

  it('needs a token with read to see analysis and publish to upload a profile', async () => {
    expect((await server.app.request('/v1/admin/apps/demo/telemetry/drift')).status).toBe(401);
    const created = await readJson(await req('/v1/admin/apps/demo/tokens', { method: 'POST', body: JSON.stringify({ name: 'dash', scopes: ['read'] }) }));
    expect((await req('/v1/admin/apps/demo/telemetry/performance', {}, created.token)).status).toBe(200);
    const denied = await req(PROFILE_URL, { method: 'PUT', body: JSON.stringify({ profile: profile.toJSON() }) }, created.token);
    expect(denied.status).toBe(403);
  });

  it('shows nothing below 20 reports, not even the count', async () => {
    expect((await ingest(Array.from({ length: 19 }, () => deviceReport(profile, 0, 'control')))).status).toBe(202);
    const performance = await readJson(await req('/v1/admin/apps/demo/telemetry/performance'));
    expect(performance.versions).toEqual([{ model: 'vad', version: '5.0.0', backend: 'wasm', shown: false, minReports: 20 }]);
    const drift = await readJson(await req('/v1/admin/apps/demo/telemetry/drift'));
    expect(drift.versions).toEqual([{ model: 'vad', version: '5.0.0', profile: 'vad@5/ref1', shown: false, minReports: 20 }]);
  });

  it('flags the shifted cohort and clears the unshifted one, with the statistics behind each verdict', async () => {
    expect((await ingest(Array.from({ length: 11 }, () => deviceReport(profile, 0, 'control')))).status).toBe(202);
    for (let i = 0; i < 2; i++) {
      expect((await ingest(Array.from({ length: 15 }, () => deviceReport(profile, 0.5, 'candidate')))).status).toBe(202);
    }
    const res = await readJson(await req('/v1/admin/apps/demo/telemetry/drift?byCohort=true'));
    const byArm = Object.fromEntries(res.versions.map((v: { cohort: { arm: string } }) => [v.cohort.arm, v]));
    expect(byArm.control).toMatchObject({ shown: true, reports: 30, drift: { verdict: 'no_drift' } });
    expect(byArm.candidate).toMatchObject({ shown: true, reports: 30, drift: { verdict: 'drift' } });
    const [rms, zcr] = byArm.candidate.drift.features;
    expect(rms).toMatchObject({ name: 'rms', verdict: 'drift' });
    expect(rms.qValue).toBeLessThan(0.01);
    expect(rms.effect.wasserstein).toBeGreaterThan(0.05);
    expect(zcr).toMatchObject({ name: 'zcr', verdict: 'no_drift' });

    const all = await readJson(await req('/v1/admin/apps/demo/telemetry/drift'));
    expect(all.versions).toEqual([expect.objectContaining({ shown: true, reports: 60 })]);
  });

  it('reports latency quantiles and error rates per version and backend, and counts per cohort', async () => {
    const perf = await readJson(await req('/v1/admin/apps/demo/telemetry/performance?model=vad'));
    expect(perf.versions).toHaveLength(1);
    const v = perf.versions[0];
    expect(v).toMatchObject({ shown: true, reports: 60, inferences: 3000, errors: 0, errorRate: 0, firstInferenceMs: null });
    // Half the inferences took 2–3 ms (control), half 4–5 ms (candidate).
    expect(v.latencyMs.p50).toBeGreaterThan(2);
    expect(v.latencyMs.p50).toBeLessThan(3.1);
    expect(v.latencyMs.p90).toBeGreaterThan(4);
    expect(v).not.toHaveProperty('latencyMs.max');

    const cohorts = await readJson(await req('/v1/admin/apps/demo/telemetry/cohorts'));
    const arms = Object.fromEntries(cohorts.cohorts.map((c: { cohort: { arm: string } }) => [c.cohort.arm, c]));
    expect(arms.control).toMatchObject({ shown: true, reports: 30, inferences: 1500 });
    expect(arms.candidate).toMatchObject({ shown: true, reports: 30, inferences: 1500 });
    expect(arms.candidate.latencyMs.p50).toBeGreaterThan(4);
  });

  it('drops summaries cut on another profile but keeps the report; refuses ones that do not fit the profile', async () => {
    const other = ReferenceProfile.fromSamples({ id: 'vad@5/old', numeric: [{ name: 'rms', values: [1, 2, 3, 4, 5] }] });
    const report = deviceReport(profile, 0, 'control');
    const stale = { ...report, models: [{ ...report.models[0]!, summaries: privatizeSummaries(new FeatureRecorder(other).drain(), { rng }) }] };
    const res = await server.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: JSON.stringify(stale), headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(202);
    expect(await readJson(res)).toEqual({ accepted: true, ignoredSummaries: 1 });

    const misfit = deviceReport(profile, 0, 'control');
    const model = misfit.models[0]! as { summaries: { totals: number[]; cells: number[][] } };
    model.summaries.cells = model.summaries.cells.map((c) => c.slice(1));
    const bad = await server.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: JSON.stringify(misfit), headers: { 'Content-Type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect((await readJson(bad)).error.message).toMatch(/models\.0\.summaries: cells \[10, 10\] do not fit profile "vad@5\/ref1" \(\[11, 11\]\)/);
  });

  it('rejects query ranges that are not whole hours', async () => {
    const res = await req('/v1/admin/apps/demo/telemetry/cohorts?from=2026-01-01T10:30:00Z');
    expect(res.status).toBe(400);
    expect((await readJson(res)).error.message).toMatch(/query field "from": must be a whole hour/);
    const openapi = await readJson(await server.app.request('/v1/admin/openapi.json'));
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/apps/{app}/telemetry/drift', '/apps/{app}/telemetry/performance', '/apps/{app}/telemetry/cohorts', '/apps/{app}/models/{model}/versions/{version}/profile']),
    );
  });
});
