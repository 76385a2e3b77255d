import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TelemetryConfig } from '@edgeloop/telemetry';
import { deviceReport, lastPeriod, manifestConfig } from '../packages/update-server/src/testing/telemetry-devices.js';
import { startPostgresCluster, type PostgresCluster } from '../packages/update-server/src/testing/postgres-cluster.js';
import { bootstrapAdmin, spawnServer, type ServerProcess } from './support/server-process.js';

const require = createRequire(import.meta.url);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Outcome {
  at: number;
  instance: 'A' | 'B';
  kind: 'poll' | 'telemetry' | 'admin';
  status?: number;
  retryAfter?: string;
  error?: string;
}

/** One request over node:http (a chosen loopback source address, so each simulated device has its own rate bucket). */
function send(url: URL, init: { method?: string; headers?: Record<string, string>; body?: string; localAddress?: string }): Promise<Omit<Outcome, 'at' | 'instance' | 'kind'> & { etag?: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method: init.method ?? 'GET', headers: init.headers, localAddress: init.localAddress, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, retryAfter: res.headers['retry-after'], etag: res.headers.etag }));
      res.on('error', (error) => resolve({ error: error.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (error) => resolve({ error: error.message }));
    req.end(init.body);
  });
}

/** A real schema-3 device report under the config the manifest carries. */
function report(config: TelemetryConfig) {
  return deviceReport({ config, period: lastPeriod(config, Date.now()), uses: [{ model: 'vad', version: '5.0.0' }] });
}

/**
 * Two `edgeloop serve` processes on one PostgreSQL under manifest polls, telemetry and admin
 * writes, while PostgreSQL restarts (`pg_ctl stop -m fast`, then start): both stay up, manifests
 * are served from memory throughout, writes answer 503 with Retry-After while the database is
 * down and succeed again once it is back, and changes reach the other instance again.
 */
describe('a PostgreSQL restart under load', () => {
  let cluster: PostgresCluster;
  let token: string;
  const dirs: string[] = [];
  const instances: Record<'A' | 'B', ServerProcess | undefined> = { A: undefined, B: undefined };

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    token = await bootstrapAdmin(['--database-url', cluster.url]);
    for (const name of ['A', 'B'] as const) {
      const dir = await mkdtemp(join(tmpdir(), `edgeloop-pg-restart-${name}-`));
      dirs.push(dir);
      instances[name] = await spawnServer(['--data-dir', dir, '--database-url', cluster.url, '--no-seed']);
    }
  }, 180_000);
  afterAll(async () => {
    for (const instance of Object.values(instances)) if (instance?.alive()) instance.child.kill('SIGKILL');
    await cluster?.stop();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('keeps both instances up and manifests served; writes get 503 + Retry-After, then succeed', async () => {
    const A = instances.A!;
    const B = instances.B!;
    const auth = { Authorization: `Bearer ${token}` };
    const model = await readFile(require.resolve('@ricky0123/vad-web/dist/silero_vad_v5.onnx'));
    const published = await fetch(new URL('v1/admin/apps/demo/models/vad/versions/5.0.0', A.url), {
      method: 'POST',
      body: model,
      headers: { ...auth, 'Content-Type': 'application/octet-stream' },
    });
    expect(published.status).toBe(201);
    for (const instance of [A, B]) {
      await expect.poll(async () => (await fetch(new URL('v1/apps/demo/manifest', instance.url))).status, { timeout: 10_000 }).toBe(200);
    }

    const outcomes: Outcome[] = [];
    let running = true;
    const loop = async (instance: 'A' | 'B', kind: Outcome['kind'], everyMs: number, once: () => Promise<Omit<Outcome, 'at' | 'instance' | 'kind'>>) => {
      while (running) {
        const at = Date.now();
        outcomes.push({ at, instance, kind, ...(await once()) });
        await sleep(Math.max(0, everyMs - (Date.now() - at)));
      }
    };
    const loops: Array<Promise<void>> = [];
    for (const [name, server] of [['A', A], ['B', B]] as const) {
      let etag: string | undefined;
      const manifest = new URL('v1/apps/demo/manifest', server.url);
      for (let i = 0; i < 2; i++) {
        loops.push(loop(name, 'poll', 25, async () => {
          const res = await send(manifest, { headers: etag ? { 'If-None-Match': etag } : {} });
          if (res.etag) etag = res.etag;
          return res;
        }));
      }
      // Sixteen senders per instance, one report each every 300 ms, each report from a loopback
      // address of its own: a device reports once per period, so none of them meets a rate limit.
      const config = manifestConfig(await (await fetch(manifest)).json());
      let sent = 0;
      for (let device = 0; device < 16; device++) {
        loops.push(loop(name, 'telemetry', 300, () => {
          sent++;
          const localAddress = `127.${name === 'A' ? 1 : 2}.${(sent >> 8) & 255}.${(sent & 255) || 1}`;
          return send(new URL('v1/apps/demo/telemetry', server.url), { method: 'POST', body: JSON.stringify(report(config)), headers: { 'Content-Type': 'application/json' }, localAddress });
        }));
      }
      loops.push(loop(name, 'admin', 150, () =>
        send(new URL('v1/admin/apps/demo/tokens', server.url), { method: 'POST', body: JSON.stringify({ name: 'load', scopes: ['read'] }), headers: { ...auth, 'Content-Type': 'application/json' } }),
      ));
    }

    await sleep(1_500);
    const stopping = Date.now();
    await cluster.stopFast();
    const down = Date.now();
    await sleep(3_000);
    const starting = Date.now();
    await cluster.start();
    // Writes succeed again on both instances, without a restart of either.
    const state = () => {
      for (const [name, server] of [['A', A], ['B', B]] as const) {
        if (!server.alive()) return `${name} exited:\n${server.output().slice(-2000)}`;
        const writes = outcomes.filter((o) => o.instance === name && o.kind !== 'poll' && o.at > starting);
        if (writes.length === 0 || !writes.slice(-3).every((o) => o.status !== undefined && o.status < 300)) return `${name} not writing yet`;
      }
      return 'both writing';
    };
    await expect.poll(state, { timeout: 30_000, interval: 200 }).toBe('both writing');
    running = false;
    await Promise.all(loops);

    const context = () => `A:\n${A.output().slice(-3000)}\nB:\n${B.output().slice(-3000)}`;
    expect(A.alive() && B.alive(), context()).toBe(true);
    // Never a 500, never a refused or cut connection: a crashed instance would show as one.
    expect(outcomes.filter((o) => o.error !== undefined || o.status === undefined || o.status >= 500 && o.status !== 503), context()).toEqual([]);
    // While the database was down, every poll was answered from memory.
    const whileDown = outcomes.filter((o) => o.at >= down && o.at < starting);
    const polls = whileDown.filter((o) => o.kind === 'poll');
    expect(polls.length).toBeGreaterThan(20);
    expect(polls.every((o) => o.status === 200 || o.status === 304)).toBe(true);
    // …and every write was a 503 with Retry-After (a device may also hit its own rate limit).
    for (const kind of ['telemetry', 'admin'] as const) {
      const writes = whileDown.filter((o) => o.kind === kind && o.status !== 429);
      expect(writes.length, kind).toBeGreaterThan(0);
      expect(writes.every((o) => o.status === 503 && /^\d+$/.test(o.retryAfter ?? '')), `${kind}: ${JSON.stringify(writes.slice(0, 5))}`).toBe(true);
    }
    expect(outcomes.some((o) => o.at >= stopping && o.kind === 'telemetry' && o.status === 202 && o.at > starting)).toBe(true);

    // A change made through A reaches B again (its LISTEN connection came back on its own).
    const beta = await fetch(new URL('v1/admin/apps/demo/models/vad/channels/beta', A.url), {
      method: 'PUT',
      body: JSON.stringify({ version: '5.0.0' }),
      headers: { ...auth, 'Content-Type': 'application/json' },
    });
    expect(beta.status).toBe(200);
    await expect.poll(async () => (await fetch(new URL('v1/apps/demo/manifest?channel=beta', B.url))).status, { timeout: 15_000, interval: 200 }).toBe(200);
  });
});
