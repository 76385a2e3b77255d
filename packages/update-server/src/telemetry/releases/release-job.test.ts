import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { seededRng, type TelemetryConfig } from '@edgeloop/telemetry';
import { createTestServer, readJson, sileroV5, type TestServer } from '../../test-support.js';
import { deviceReport, lastPeriod, manifestConfig, type DeviceUse } from '../../testing/telemetry-devices.js';
import { reportIdRetentionMs, TELEMETRY_JOBS } from '../telemetry-jobs.js';
import type { ReleaseRun } from './release-job.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
let clock = 0;
let server: TestServer;
let config: TelemetryConfig;
let seed = 1;
/** Each test sends under its own backend names: releases are append-only, so tests tell theirs apart by key. */
let backend = '';

beforeAll(async () => {
  server = await createTestServer({ now: () => clock, telemetry: { rateLimit: false, sourceLimit: false } });
  const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', {
    method: 'POST', body: sileroV5, headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
  });
  expect(res.status).toBe(201);
  config = manifestConfig(await readJson(await server.app.request('/v1/apps/demo/manifest')));
});
afterAll(() => server.dispose());
beforeEach(async () => {
  for (const table of ['telemetry_windows', 'telemetry_reports']) await server.db.query(`delete from ${table}`);
  // Near the real time: manifests are issued on the database's clock, and one that looks old to
  // the app's clock would be re-issued again and again.
  clock = Math.floor(Date.now() / HOUR) * HOUR + 30 * MINUTE;
  backend = `b${seed++}`;
});

async function send(n: number, use: Partial<DeviceUse> = {}): Promise<void> {
  const reports = Array.from({ length: n }, () => deviceReport({ config, period: lastPeriod(config, clock), uses: [{ model: 'vad', version: '5.0.0', backend, ...use }], rng: seededRng(seed++) }));
  for (let i = 0; i < reports.length; i += 32) {
    const res = await server.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: JSON.stringify(reports.slice(i, i + 32)) });
    expect(res.status).toBe(202);
  }
}
const release = () => server.jobs.run<ReleaseRun>(TELEMETRY_JOBS.release);
const hourOf = (t: number) => Math.floor(t / HOUR) * HOUR;

async function releasesSince(from: number) {
  const rows = await server.db.query<{ backend: string; window_from: Date; window_to: Date; reports: number; cell: { reports: number } }>(
    'select backend, window_from, window_to, reports, cell from telemetry_releases where window_from >= $1 and backend like $2 order by id',
    [new Date(from), `${backend}%`],
  );
  return rows.map((r) => ({ backend: r.backend, from: r.window_from.getTime(), to: r.window_to.getTime(), reports: Number(r.reports), cellReports: r.cell.reports }));
}
const pending = async () => Number((await server.db.query<{ n: number }>('select coalesce(sum(reports), 0) as n from telemetry_windows'))[0]!.n);

describe('releases', () => {
  it('releases a closed hour once, and only after its grace of 2 minutes', async () => {
    const hour = hourOf(clock);
    await send(25);
    clock = hour + HOUR - 1;
    expect(await release()).toEqual({ released: 0, held: 0, dropped: 0 }); // still open
    clock = hour + HOUR + 2 * MINUTE - 1;
    expect(await release()).toEqual({ released: 0, held: 0, dropped: 0 }); // in its grace
    clock = hour + HOUR + 2 * MINUTE;
    expect(await release()).toEqual({ released: 1, held: 0, dropped: 0 });
    expect(await release()).toEqual({ released: 0, held: 0, dropped: 0 });
    expect(await releasesSince(hour)).toEqual([{ backend, from: hour, to: hour + HOUR, reports: 25, cellReports: 25 }]);
    expect(await pending()).toBe(0);
  });

  it('carries rows below the floor forward and releases them together, once they reach it', async () => {
    const hour = hourOf(clock);
    await send(5);
    await send(19, { backend: `${backend}-gpu` });
    clock = hour + HOUR + 2 * MINUTE;
    expect(await release()).toEqual({ released: 0, held: 2, dropped: 0 });
    clock = hour + 2 * HOUR + 30 * MINUTE; // two hours later
    await send(15);
    clock = hour + 3 * HOUR + 2 * MINUTE;
    expect(await release()).toEqual({ released: 1, held: 1, dropped: 0 });
    expect(await releasesSince(hour)).toEqual([{ backend, from: hour, to: hour + 3 * HOUR, reports: 20, cellReports: 20 }]);
    expect(await pending()).toBe(19); // the other backend still waits, shown nowhere
  });

  it('drops rows that never reach the floor after 7 days', async () => {
    const hour = hourOf(clock);
    await send(3);
    // Only the job runs from here: nothing asks for the manifest on a clock a week ahead of the database's.
    clock = hour + 7 * 24 * HOUR;
    expect(await release()).toEqual({ released: 0, held: 1, dropped: 0 });
    clock = hour + 7 * 24 * HOUR + HOUR;
    expect(await release()).toEqual({ released: 0, held: 0, dropped: 1 });
    expect(await pending()).toBe(0);
    expect(await releasesSince(hour)).toEqual([]);
  });

  it('refuses to change or delete a release', async () => {
    const hour = hourOf(clock);
    await send(20);
    clock = hour + HOUR + 2 * MINUTE;
    await release();
    await expect(server.db.query('update telemetry_releases set reports = 1')).rejects.toThrow(/append-only/);
    await expect(server.db.query('delete from telemetry_releases')).rejects.toThrow(/append-only/);
  });
});

describe('replay protection', () => {
  it('remembers report ids at least 4 days, longer than a report can be admitted, then forgets them', async () => {
    const DAY = 24 * HOUR;
    expect(reportIdRetentionMs(DAY)).toBeGreaterThanOrEqual(4 * DAY);
    // A report of period p is admitted from one period before p starts (a device clock ahead) until
    // max(48 h, 2 periods) + 1 period after: ids must outlive that whole span.
    for (const periodMs of [HOUR, DAY, 7 * DAY]) expect(reportIdRetentionMs(periodMs)).toBeGreaterThan(Math.max(48 * HOUR, 2 * periodMs) + 2 * periodMs);
    await send(3);
    const ids = async () => Number((await server.db.query<{ n: number }>('select count(*) as n from telemetry_reports'))[0]!.n);
    const sent = clock;
    clock = sent + reportIdRetentionMs(config.periodMs) - MINUTE;
    await server.jobs.run(TELEMETRY_JOBS.prune);
    expect(await ids()).toBe(3);
    clock = sent + reportIdRetentionMs(config.periodMs) + MINUTE;
    await server.jobs.run(TELEMETRY_JOBS.prune);
    expect(await ids()).toBe(0);
  });
});
