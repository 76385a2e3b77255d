import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pinKeys, verifyManifestEnvelope } from '@edgeloop/protocol';
import { seededRng, type TelemetryConfig } from '@edgeloop/telemetry';
import { ROLLOUT_GATE_JOB } from '../../app.js';
import { createTestServer, readJson, sileroV5, sileroV6, type TestServer } from '../../test-support.js';
import { deviceReport, lastPeriod, manifestConfig, type DeviceUse } from '../../testing/telemetry-devices.js';
import { TELEMETRY_JOBS } from '../../telemetry/telemetry-jobs.js';

const HOUR = 3_600_000;
const MINUTE = 60_000;
let clock = 0;
let server: TestServer;
let config: TelemetryConfig;
const rng = seededRng(1103);

const admin = (path: string, init: RequestInit = {}) =>
  server.app.request(`/v1/admin/apps/demo${path}`, { ...init, headers: { 'Content-Type': 'application/json', ...server.auth(), ...(init.headers as Record<string, string>) } });

async function startRollout(body: object): Promise<Response> {
  return admin('/rollouts', { method: 'POST', body: JSON.stringify({ model: 'vad', toVersion: '6.0.0', ...body }) });
}

/** `n` devices' reports of one arm: the candidate runs 6.0.0, the control 5.0.0. */
async function send(rollout: string, arm: 'candidate' | 'control', n: number, use: Partial<DeviceUse> = {}): Promise<void> {
  const reports = Array.from({ length: n }, () =>
    deviceReport({ config, period: lastPeriod(config, clock), uses: [{ model: 'vad', version: arm === 'candidate' ? '6.0.0' : '5.0.0', cohort: { rollout, arm, step: 0 }, ...use }], rng }),
  );
  for (let i = 0; i < reports.length; i += 32) {
    const res = await server.app.request('/v1/apps/demo/telemetry', { method: 'POST', body: JSON.stringify(reports.slice(i, i + 32)) });
    expect(res.status).toBe(202);
  }
}

/** The hour closes: releases are made, then the gate looks. */
async function closeHour(): Promise<void> {
  clock = Math.floor(clock / HOUR) * HOUR + HOUR + 3 * MINUTE;
  await server.jobs.run(TELEMETRY_JOBS.release);
  await server.jobs.run(ROLLOUT_GATE_JOB);
}

const rolloutOf = async (id: string) => readJson(await admin(`/rollouts/${id}`));
const decisionsOf = async (id: string) => (await readJson(await admin(`/rollouts/${id}/decisions`))).decisions as Array<Record<string, unknown>>;

beforeAll(async () => {
  clock = Math.floor(Date.now() / HOUR) * HOUR + 10 * MINUTE;
  server = await createTestServer({ now: () => clock, telemetry: { rateLimit: false, sourceLimit: false } });
  for (const [version, bytes] of [['5.0.0', sileroV5], ['6.0.0', sileroV6]] as const) {
    const res = await server.app.request(`/v1/admin/apps/demo/models/vad/versions/${version}`, {
      method: 'POST', body: bytes, headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
    });
    expect(res.status).toBe(201);
  }
  config = manifestConfig(await readJson(await server.app.request('/v1/apps/demo/manifest')));
});
afterAll(() => server.dispose());

describe('the rollout gate on the server', () => {
  it('refuses a gate policy that names an unknown metric, tolerates a negative regression or asks for fewer reports than the floor', async () => {
    const bad = async (gate: object, message: RegExp) => {
      const res = await startRollout({ steps: [{ percentage: 10 }, { percentage: 100 }], gate });
      expect(res.status).toBe(400);
      expect((await readJson(res)).error.message).toMatch(message);
    };
    await bad({ metrics: [{ metric: 'speed', tolerance: { relative: 0.1 } }] }, /gate\.metrics\.0\.metric: use errors, latencyP50/);
    await bad({ metrics: [{ metric: 'errors', tolerance: { relative: -0.1 } }] }, /a tolerance cannot be negative/);
    await bad({ minReportsPerArm: 5 }, /gate\.minReportsPerArm: 5 is below the telemetry floor of 20 reports; use 20 or more/);
    expect((await readJson(await admin('/rollouts'))).rollouts).toEqual([]);
  });

  it('rolls back a candidate that fails more, at once: new signed manifest without it, decision and audit with their inputs', async () => {
    const res = await startRollout({ steps: [{ percentage: 10 }, { percentage: 100 }] });
    expect(res.status).toBe(201);
    const rollout = (await readJson(res)) as { id: string; gate: { alpha: number } };
    expect(rollout.gate.alpha).toBe(0.05); // the default policy, filled in
    // Below the floor in the candidate arm: the gate waits and says so without a count.
    await send(rollout.id, 'control', 200);
    await send(rollout.id, 'candidate', 12, { failed: 25 });
    await closeHour();
    const [waiting] = await decisionsOf(rollout.id);
    expect(waiting).toMatchObject({ outcome: 'hold', rule: 'insufficient_reports', reason: 'waiting: fewer than 20 reports in the candidate arm', applied: false });
    expect(JSON.stringify(waiting!.reports)).not.toMatch(/candidate/);
    // Enough: every candidate device fails half its inferences, the control almost never.
    await send(rollout.id, 'control', 1600);
    await send(rollout.id, 'candidate', 200, { failed: 25 });
    await closeHour();
    const [rolledBack] = await decisionsOf(rollout.id);
    expect(rolledBack).toMatchObject({ outcome: 'rollback', rule: 'regression', applied: true });
    // Shares are unbiased estimates from randomized responses: one near 0 % can come out a little below it.
    expect(rolledBack!.reason).toMatch(/^rolled back: errors \d+\.\d % vs −?\d+\.\d % \(\+\d+\.\d points, interval \[\+\d+\.\d points, \+\d+\.\d points\]\), more than the tolerated \+\d\.\d points$/);
    const errors = (rolledBack!.comparisons as Array<Record<string, unknown>>).find((c) => c.metric === 'errors' && c.backend === 'all')!;
    expect(errors).toMatchObject({ verdict: 'regression', candidate: { reports: 212 }, control: { reports: 1800 } });
    expect(errors.interval).toHaveLength(2);
    expect((await rolloutOf(rollout.id)).state).toBe('rolled_back');
    const envelope = await readJson(await server.app.request('/v1/apps/demo/manifest'));
    const manifest = (await verifyManifestEnvelope(envelope, await pinKeys([server.manifests.signer.key.publicKey]), new Date(clock), { app: 'demo' })).manifest;
    expect(manifest.models.vad!.rollout).toBeUndefined();
    const audit = (await readJson(await admin('/audit?limit=5'))).entries as Array<{ actor: string; action: string }>;
    expect(audit.filter((e) => e.actor === 'gate').map((e) => e.action)).toEqual(expect.arrayContaining(['rollout.rollback', 'rollout.gate.rollback']));
  });

  it('promotes a healthy candidate once the step has held a closed window, and a person’s pause wins over it', async () => {
    // 200 candidate reports cannot show the default tolerances (that takes fleets: npm run bench:loop);
    // wide ones let this test watch the mechanics.
    const gate = { metrics: [{ metric: 'errors', tolerance: { absolute: 0.5 } }] };
    const res = await startRollout({ steps: [{ percentage: 10 }, { percentage: 50 }, { percentage: 100 }], gate });
    const rollout = (await readJson(res)) as { id: string };
    await send(rollout.id, 'control', 1800);
    await send(rollout.id, 'candidate', 200);
    // The step began after the hour began: no whole window held yet.
    await closeHour();
    expect((await decisionsOf(rollout.id))[0]).toMatchObject({ outcome: 'hold' });
    expect((await rolloutOf(rollout.id)).stepIndex).toBe(0);
    // A person pauses: the gate leaves a paused rollout alone.
    expect((await admin(`/rollouts/${rollout.id}/pause`, { method: 'POST' })).status).toBe(200);
    await closeHour();
    expect((await rolloutOf(rollout.id))).toMatchObject({ state: 'paused', stepIndex: 0 });
    expect((await admin(`/rollouts/${rollout.id}/resume`, { method: 'POST' })).status).toBe(200);
    await closeHour();
    // Resumed: the step restarted, so again a whole window must pass first.
    await closeHour();
    const [promoted] = await decisionsOf(rollout.id);
    expect(promoted).toMatchObject({ outcome: 'promote', rule: 'non_inferior', applied: true });
    expect(await rolloutOf(rollout.id)).toMatchObject({ state: 'running', stepIndex: 1, percentage: 50 });
    // One decision per window, even when the gate runs again.
    const before = (await decisionsOf(rollout.id)).length;
    await server.jobs.run(ROLLOUT_GATE_JOB);
    expect((await decisionsOf(rollout.id)).length).toBe(before);
    await admin(`/rollouts/${rollout.id}/abort`, { method: 'POST' });
  });

  it('leaves a rollout without a gate to its timer and to people', async () => {
    const res = await startRollout({ steps: [{ percentage: 10, holdMinutes: 1 }, { percentage: 100 }], gate: false });
    const rollout = (await readJson(res)) as { id: string; gate: unknown };
    expect(rollout.gate).toBeNull();
    await closeHour();
    expect(await decisionsOf(rollout.id)).toEqual([]);
    await server.jobs.run('rollouts.advance');
    expect((await rolloutOf(rollout.id)).stepIndex).toBe(1);
  });
});
