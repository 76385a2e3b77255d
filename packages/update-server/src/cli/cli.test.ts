import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeGolden, pinKeys, verifyManifestEnvelope } from '@edgeloop/protocol';
import { ROLLOUT_GATE_JOB } from '../app.js';
import { startServer, type RunningServer } from '../server.js';
import { sileroV6 } from '../test-support.js';
import { CliError, EXIT } from './client.js';
import { runCli } from './run.js';
import { describeDecision } from './gate-decision.js';

describe('edgeloop CLI through the admin API', () => {
  let server: RunningServer;
  let dir: string;
  const lines: string[] = [];
  const cli = async (...argv: string[]) => {
    lines.length = 0;
    try {
      return await runCli([...argv, '--server', server.url], { out: (l) => lines.push(l), env: { EDGELOOP_TOKEN: server.adminToken } });
    } catch (error) {
      if (error instanceof CliError) {
        lines.push(error.message);
        return error.exitCode;
      }
      throw error;
    }
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-cli-'));
    server = await startServer({ dataDir: join(dir, 'data'), port: 0, log: () => {}, issueAdminTokenFor: 'demo' });
    await writeFile(join(dir, 'v6.onnx'), sileroV6);
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates, lists and revokes tokens; a revoked token exits 3', async () => {
    expect(await cli('token', 'create', '--app', 'demo', '--scopes', 'read', '--name', 'ci')).toBe(EXIT.ok);
    const token = lines.find((l) => l.startsWith('token'))!.split(': ')[1]!;
    const id = lines[0]!.split(' ')[1]!;
    expect(await cli('token', 'list', '--app', 'demo')).toBe(EXIT.ok);
    expect(lines.some((l) => l.startsWith(id) && l.includes('active'))).toBe(true);
    expect(await cli('token', 'revoke', '--app', 'demo', id)).toBe(EXIT.ok);
    expect(await cli('rollout', 'status', '--app', 'demo', '--token', token)).toBe(EXIT.auth);
    expect(lines[0]).toMatch(/401 unauthorized: .*revoked/);
  });

  it('publishes a file and drives a rollout with clear output and exit codes', async () => {
    expect(await cli('publish', join(dir, 'v6.onnx'), '--app', 'demo', '--model', 'vad', '--version', '6.0.0', '--notes', 'v6')).toBe(EXIT.ok);
    expect(lines[0]).toBe(`published demo/vad@6.0.0 (seq 2): ${sileroV6.byteLength} bytes`);
    expect(await cli('publish', join(dir, 'v6.onnx'), '--app', 'demo', '--model', 'vad', '--version', '6.0.0')).toBe(EXIT.conflict);
    expect(await cli('rollout', 'start', '--app', 'demo', '--model', 'vad', '--to', '6.0.0', '--steps', '5,50,100')).toBe(EXIT.ok);
    expect(lines[0]).toMatch(/^started ro_[0-9a-f]{12}  vad\/stable  5\.0\.0 → 6\.0\.0  running  5% \(step 1\/3\)$/);
    const id = lines[0]!.split(' ')[1]!;
    expect(await cli('rollout', 'advance', '--app', 'demo', id)).toBe(EXIT.ok);
    expect(lines[0]).toContain('running  50% (step 2/3)');
    expect(await cli('rollout', 'resume', '--app', 'demo', id)).toBe(EXIT.conflict);
    expect(await cli('rollout', 'rollback', '--app', 'demo', id)).toBe(EXIT.ok);
    expect(lines[0]).toContain('rolled_back  0%');
    expect(await cli('rollout', 'status', '--app', 'demo', 'ro_000000000000')).toBe(EXIT.notFound);
    expect(await cli('rollout', 'start', '--app', 'demo', '--model', 'vad', '--to', '6.0.0', '--steps', '50,10')).toBe(EXIT.usage);
    expect(await cli('frobnicate')).toBe(EXIT.usage);
  });
});

describe('edgeloop rollout status and the gate', () => {
  const HOUR = 3_600_000;
  let server: RunningServer;
  let dir: string;
  /** The server clock: moved past a window's close instead of waiting an hour. */
  let ahead = 0;
  const lines: string[] = [];
  const cli = async (...argv: string[]) => {
    lines.length = 0;
    return runCli([...argv, '--server', server.url], { out: (l) => lines.push(l), env: { EDGELOOP_TOKEN: server.adminToken } });
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-cli-gate-'));
    server = await startServer({ dataDir: join(dir, 'data'), port: 0, log: () => {}, issueAdminTokenFor: 'demo', now: () => Date.now() + ahead });
    await writeFile(join(dir, 'v6.onnx'), sileroV6);
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the gate\'s latest decision in words: outcome, rule, window, reason; or that there is none yet, or no gate', async () => {
    expect(await cli('publish', join(dir, 'v6.onnx'), '--app', 'demo', '--model', 'vad', '--version', '6.0.0')).toBe(EXIT.ok);
    expect(await cli('rollout', 'start', '--app', 'demo', '--model', 'vad', '--to', '6.0.0', '--steps', '10,100')).toBe(EXIT.ok);
    const id = lines[0]!.split(' ')[1]!;
    expect(await cli('rollout', 'status', '--app', 'demo', id)).toBe(EXIT.ok);
    expect(lines).toEqual([expect.stringContaining(`${id}  vad/stable`), '  gate: no decision yet (the gate decides after each closed telemetry window, from released reports)']);

    // An hour later the window has closed; no device reported, so the gate waits and says why.
    const now = Date.now() + ahead;
    ahead += (Math.floor(now / HOUR) + 1) * HOUR + 3 * 60_000 - now;
    await server.jobs.run(ROLLOUT_GATE_JOB);
    const windowEnd = new Date(Math.floor((Date.now() + ahead) / HOUR) * HOUR).toISOString();
    expect(await cli('rollout', 'status', '--app', 'demo', id)).toBe(EXIT.ok);
    const [decision] = (await server.rollouts.decisions('demo', id)) as Array<{ reason: string }>;
    expect(decision!.reason).toMatch(/^waiting: fewer than 20 reports/);
    expect(lines.slice(1)).toEqual([
      `  gate: hold (rule insufficient_reports: an arm has fewer reports than the floor) at the window ending ${windowEnd}, step 1`,
      `    ${decision!.reason}`,
    ]);
    // Without an id, every rollout with its own latest decision.
    expect(await cli('rollout', 'status', '--app', 'demo')).toBe(EXIT.ok);
    expect(lines.filter((l) => l.startsWith('  gate: hold'))).toHaveLength(1);

    expect(await cli('rollout', 'abort', '--app', 'demo', id)).toBe(EXIT.ok);
    const ungated = await server.rollouts.start('demo', { model: 'vad', channel: 'stable', toVersion: '6.0.0', steps: [{ percentage: 50 }], gate: false }, { actor: 'test', requestId: null });
    expect(await cli('rollout', 'status', '--app', 'demo', ungated.id)).toBe(EXIT.ok);
    expect(lines[1]).toBe('  gate: off (steps advance on their hold time or by hand)');
  });

  it('starts a rollout with a gate policy, with --gate off and a hold, and refuses a hold the gate would ignore', async () => {
    for (const r of await server.rollouts.list('demo')) if (r.state === 'running') await server.rollouts.act('demo', r.id, 'abort', { actor: 'test', requestId: null });
    const start = (...more: string[]) => cli('rollout', 'start', '--app', 'demo', '--model', 'vad', '--to', '6.0.0', '--steps', '10,100', ...more);
    await expect(start('--hold', '60')).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringMatching(/^--hold paces rollouts without a gate: add --gate off/) });
    await expect(start('--gate', '{alpha')).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringMatching(/^--gate must be "off" or a JSON gate policy/) });
    await expect(start('--gate', '{"minReportsPerArm":5}')).rejects.toMatchObject({ message: expect.stringMatching(/gate\.minReportsPerArm: 5 is below the telemetry floor of 20 reports/) });
    expect(await start('--gate', '{"minHoldWindows":3,"alpha":0.01}')).toBe(EXIT.ok);
    const gated = lines[0]!.split(' ')[1]!;
    expect((await server.rollouts.get('demo', gated)).gate).toMatchObject({ minHoldWindows: 3, alpha: 0.01, maxStepHours: 48 });
    expect(await cli('rollout', 'abort', '--app', 'demo', gated)).toBe(EXIT.ok);
    expect(await start('--gate', 'off', '--hold', '60')).toBe(EXIT.ok);
    expect(lines[0]).toMatch(/running {2}10% \(step 1\/2\) {2}next step /);
    expect(await cli('rollout', 'abort', '--app', 'demo', lines[0]!.split(' ')[1]!)).toBe(EXIT.ok);
  });

  it('says whether the gate acted on a decision', () => {
    const decision = { windowEnd: '2026-12-03T15:00:00.000Z', stepIndex: 0, rule: 'regression', reason: 'rolled back: errors 38.7 % vs 30.2 %' };
    expect(describeDecision({ ...decision, outcome: 'rollback', applied: true })[0]).toBe(
      '  gate: rollback (rule regression: the candidate is worse than the control by more than the tolerance) at the window ending 2026-12-03T15:00:00.000Z, step 1, acted on',
    );
    expect(describeDecision({ ...decision, outcome: 'rollback', applied: false })[0]).toMatch(/, not acted on: a person changed the rollout first$/);
    expect(describeDecision({ ...decision, outcome: 'rollback', applied: true })[1]).toBe('    rolled back: errors 38.7 % vs 30.2 %');
  });
});

describe('edgeloop publish --golden and --health', () => {
  let server: RunningServer;
  let dir: string;
  const lines: string[] = [];
  const cli = async (...argv: string[]) => {
    lines.length = 0;
    try {
      return await runCli([...argv, '--server', server.url], { out: (l) => lines.push(l), env: { EDGELOOP_TOKEN: server.adminToken } });
    } catch (error) {
      if (error instanceof CliError) {
        lines.push(error.message);
        return error.exitCode;
      }
      throw error;
    }
  };
  const goldenFile = (stateDims: number[]) =>
    JSON.stringify(
      encodeGolden([
        {
          name: 'silence',
          inputs: {
            input: { dtype: 'float32', dims: [1, 576], data: new Float32Array(576) },
            state: { dtype: 'float32', dims: stateDims, data: new Float32Array(stateDims.reduce((a, b) => a * b, 1)) },
            sr: { dtype: 'int64', dims: [], data: BigInt64Array.of(16000n) },
          },
          outputs: { output: { dtype: 'float32', dims: [1, 1], data: Float32Array.of(0.01) } },
        },
      ]),
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-cli-golden-'));
    server = await startServer({ dataDir: join(dir, 'data'), port: 0, log: () => {}, issueAdminTokenFor: 'demo' });
    await writeFile(join(dir, 'v6.onnx'), sileroV6);
    await mkdir(join(dir, 'good'));
    await writeFile(join(dir, 'good', 'a-silence.json'), goldenFile([2, 1, 128]));
    await writeFile(join(dir, 'good', 'b-again.json'), goldenFile([2, 1, 128]).replace('0.009999999776482582', '0.02'));
    await writeFile(join(dir, 'good', 'notes.txt'), 'not a golden file');
    await mkdir(join(dir, 'bad'));
    await writeFile(join(dir, 'bad', 'short-state.json'), goldenFile([2, 1, 64]));
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('checks every golden file against the model before uploading anything, then publishes them with the policy', async () => {
    const publish = (golden: string, ...more: string[]) => cli('publish', join(dir, 'v6.onnx'), '--app', 'demo', '--model', 'vad', '--version', '6.0.0', '--golden', join(dir, golden), ...more);
    expect(await publish('bad')).toBe(EXIT.usage);
    expect(lines[0]).toBe(`${join(dir, 'bad', 'short-state.json')} does not fit the model's signature: case "silence": input 'state' must be float32[2,?,128], got float32[2,1,64]`);
    expect(await publish('good', '--health', '{"p95ratio":2}')).toBe(EXIT.usage);
    expect(lines[0]).toMatch(/--health: .*p95ratio/);
    expect(await cli('health', '--app', 'demo', '--model', 'vad', '--version', '6.0.0')).toBe(EXIT.notFound); // nothing was published

    expect(await publish('good', '--health', '{"inferences":20,"golden":{"maxAbs":0.05}}')).toBe(EXIT.ok);
    expect(lines).toEqual([
      `published demo/vad@6.0.0 (seq 2): ${sileroV6.byteLength} bytes`,
      expect.stringMatching(/^added golden file a-silence\.json \(\d+ bytes\)$/),
      expect.stringMatching(/^added golden file b-again\.json \(\d+ bytes\)$/),
      'set the health policy of vad@6.0.0: {"inferences":20,"golden":{"maxAbs":0.05}}',
    ]);
    expect(await cli('health', '--app', 'demo', '--model', 'vad', '--version', '6.0.0', '{}')).toBe(EXIT.ok);
    expect(lines[0]).toMatch(/^vad@6\.0\.0 health policy: the defaults/);
  });
});

describe('edgeloop keys', () => {
  it('shows the signing key and rotates it so that clients pinned to the old key follow', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-keys-cli-'));
    try {
      const out: string[] = [];
      const io = { out: (line: string) => out.push(line), env: {} };
      expect(await runCli(['keys', 'show', '--data-dir', dataDir], io)).toBe(EXIT.ok);
      const oldKey = out.find((l) => l.startsWith('public key'))!.split(': ')[1]!;
      out.length = 0;
      expect(await runCli(['keys', 'rotate', '--data-dir', dataDir], io)).toBe(EXIT.ok);
      const newKey = out.find((l) => l.startsWith('new public key'))!.split(': ')[1]!;
      expect(newKey).not.toBe(oldKey);
      // A server started on the data directory now signs with the new key and carries the hand-over.
      const server = await startServer({ dataDir, port: 0, log: () => {}, seed: true });
      try {
        expect(server.publicKey).toBe(newKey);
        const envelope = await (await fetch(new URL('v1/apps/demo/manifest', server.url))).json();
        const verified = await verifyManifestEnvelope(envelope, await pinKeys([oldKey]), new Date(), { app: 'demo' });
        expect(verified.state.keys.map((k) => k.publicKey)).toEqual([newKey]);
      } finally {
        await server.close();
      }
      await expect(runCli(['keys', 'spin', '--data-dir', dataDir], io)).rejects.toMatchObject({ exitCode: EXIT.usage });
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('gives an app its own signing key: its manifests are signed with it, and devices pinned to the server key follow the hand-over', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'edgeloop-app-key-cli-'));
    try {
      const out: string[] = [];
      const io = { out: (line: string) => out.push(line), env: {} };
      expect(await runCli(['keys', 'show', '--data-dir', dataDir], io)).toBe(EXIT.ok);
      const serverKey = out.find((l) => l.startsWith('public key'))!.split(': ')[1]!;
      out.length = 0;
      expect(await runCli(['keys', 'create', '--app', 'demo', '--data-dir', dataDir], io)).toBe(EXIT.ok);
      const appKey = out.find((l) => l.startsWith('public key'))!.split(': ')[1]!;
      await expect(runCli(['keys', 'create', '--app', 'demo', '--data-dir', dataDir], io)).rejects.toMatchObject({ exitCode: EXIT.conflict });
      const server = await startServer({ dataDir, port: 0, log: () => {}, seed: true });
      try {
        expect(server.publicKey).toBe(serverKey);
        const envelope = (await (await fetch(new URL('v1/apps/demo/manifest', server.url))).json()) as { signed: Record<string, unknown> };
        // Pinned to the app's key (a new install), or to the server's (an installed device): both accept.
        await expect(verifyManifestEnvelope(envelope, await pinKeys([appKey]), new Date(), { app: 'demo' })).resolves.toBeTruthy();
        const followed = await verifyManifestEnvelope(envelope, await pinKeys([serverKey]), new Date(), { app: 'demo' });
        expect(followed.state.keys.map((k) => k.publicKey)).toEqual([appKey]);
        const keys = (await (await fetch(new URL('v1/apps/demo/keys', server.url))).json()) as { keys: Array<{ publicKey: string }> };
        expect(keys.keys.map((k: { publicKey: string }) => k.publicKey)).toEqual([appKey]);
        const serverKeys = (await (await fetch(new URL('v1/keys', server.url))).json()) as { keys: Array<{ publicKey: string }> };
        expect(serverKeys.keys.map((k) => k.publicKey)).toEqual([serverKey]);
        // Another app's device, pinned to the server key, refuses demo's hand-over.
        await expect(verifyManifestEnvelope({ ...envelope, signed: { ...envelope.signed, app: 'other' } }, await pinKeys([serverKey]), new Date(), { app: 'other' })).rejects.toMatchObject({
          reason: 'broken_rotation',
        });
      } finally {
        await server.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
