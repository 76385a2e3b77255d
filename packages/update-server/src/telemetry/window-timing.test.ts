import { afterAll, describe, expect, it } from 'vitest';
import { seededRng } from '@edgeloop/telemetry';
import { createTestServer, readJson, sileroV5, type TestServer } from '../test-support.js';
import { deviceReport, lastPeriod, manifestConfig } from '../testing/telemetry-devices.js';
import { TELEMETRY_JOBS } from './telemetry-jobs.js';
import { windowTiming } from './window-timing.js';

const MINUTE = 60_000;

describe('telemetry windows', () => {
  it('are hourly unless a loopback demo asks for shorter ones that divide the hour', () => {
    expect(windowTiming({})).toEqual({ windowMs: 3_600_000, graceMs: 120_000 });
    expect(windowTiming({ windowMs: 3_600_000 })).toEqual({ windowMs: 3_600_000, graceMs: 120_000 });
    expect(windowTiming({ windowMs: MINUTE, demo: true, host: '127.0.0.1' })).toEqual({ windowMs: MINUTE, graceMs: 15_000 });
    expect(windowTiming({ windowMs: 10 * MINUTE, demo: true, host: 'localhost' })).toEqual({ windowMs: 10 * MINUTE, graceMs: 120_000 });
    expect(() => windowTiming({ windowMs: MINUTE })).toThrow(/shorter than an hour: set telemetry\.demo \(edgeloop serve --telemetry-demo\)/);
    expect(() => windowTiming({ windowMs: MINUTE, demo: true, host: '0.0.0.0' })).toThrow(/demo setting and needs a loopback host .* got 0\.0\.0\.0/);
    expect(() => windowTiming({ windowMs: MINUTE, demo: true })).toThrow(/needs a loopback host/);
    expect(() => windowTiming({ windowMs: 70_000, demo: true, host: '127.0.0.1' })).toThrow(/divides an hour \(e\.g\. 60000 or 300000\), got 70000/);
    expect(() => windowTiming({ windowMs: 30_000, demo: true, host: '127.0.0.1' })).toThrow(/≥ 60000/);
  });

  describe('on a demo server with one-minute windows', () => {
    let server: TestServer | undefined;
    afterAll(() => server?.dispose());

    it('files reports per minute of arrival and releases each minute a quarter minute after it ends', async () => {
      let clock = Math.floor(Date.now() / MINUTE) * MINUTE + 10_000;
      server = await createTestServer({
        now: () => clock,
        host: '127.0.0.1',
        telemetry: { minReports: 2, demo: true, windowMs: MINUTE, rateLimit: false, sourceLimit: false },
      });
      const published = await server.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', {
        method: 'POST', body: sileroV5, headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
      });
      expect(published.status).toBe(201);
      const config = manifestConfig(await readJson(await server.app.request('/v1/apps/demo/manifest')));
      const minute = Math.floor(clock / MINUTE) * MINUTE;
      const reports = [1, 2].map((seed) => deviceReport({ config, period: lastPeriod(config, clock), uses: [{ model: 'vad', version: '5.0.0' }], rng: seededRng(seed) }));
      expect((await server.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: JSON.stringify(reports) })).status).toBe(202);

      const releases = async () => (await readJson(await server!.app.request('/v1/admin/apps/demo/telemetry/releases', { headers: server!.auth() }))) as { demo?: boolean; releases: Array<Record<string, unknown>> };
      clock = minute + MINUTE + 15_000 - 1; // in its grace
      await server.jobs.run(TELEMETRY_JOBS.release);
      expect((await releases()).releases).toEqual([]);
      clock += 1;
      await server.jobs.run(TELEMETRY_JOBS.release);
      const answer = await releases();
      expect(answer.demo).toBe(true);
      expect(answer.releases).toEqual([
        expect.objectContaining({ model: 'vad', version: '5.0.0', reports: 2, windowFrom: new Date(minute).toISOString(), windowTo: new Date(minute + MINUTE).toISOString() }),
      ]);
    });
  });
});
