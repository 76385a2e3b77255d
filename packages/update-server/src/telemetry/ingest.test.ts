import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { LatencyHistogram, type TelemetryReport } from '@edgeloop/telemetry';
import type { AppOptions } from '../app.js';
import { createTestServer, readJson, sileroV5, type TestServer } from '../test-support.js';

let server: TestServer | undefined;

async function start(telemetry: AppOptions['telemetry'] = {}): Promise<TestServer> {
  server = await createTestServer({ telemetry });
  const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', {
    method: 'POST',
    body: sileroV5,
    headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
  });
  expect(res.status).toBe(201);
  return server;
}

afterEach(async () => {
  await server?.dispose();
  server = undefined;
});

function report(overrides: Partial<TelemetryReport> = {}, model: Record<string, unknown> = {}): TelemetryReport {
  const latency = new LatencyHistogram();
  for (const ms of [0.5, 0.6, 0.7, 2.5]) latency.record(ms);
  return {
    schema: 2,
    reportId: crypto.randomUUID(),
    app: 'demo',
    sentAt: new Date().toISOString(),
    models: [{ model: 'vad', version: '5.0.0', backend: 'wasm', inferences: 4, errors: 0, latencyMs: latency.toJSON(), ...model }],
    ...overrides,
  } as TelemetryReport;
}

const post = (s: TestServer, body: unknown, headers: Record<string, string> = {}) =>
  s.app.request('/v1/apps/demo/telemetry', {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers },
  });

describe('telemetry ingest', () => {
  it('refuses sentAt outside the accepted window with 400 naming the field', async () => {
    const s = await start();
    const old = await post(s, report({ sentAt: new Date(Date.now() - 25 * 3600_000).toISOString() }));
    expect(old.status).toBe(400);
    expect((await readJson(old)).error.message).toMatch(/^sentAt: .* is more than 24 h old/);
    const future = await post(s, report({ sentAt: new Date(Date.now() + 6 * 60_000).toISOString() }));
    expect(future.status).toBe(400);
    expect((await readJson(future)).error.message).toMatch(/^sentAt: .* in the future/);
    const skewed = await post(s, report({ sentAt: new Date(Date.now() + 4 * 60_000).toISOString() }));
    expect(skewed.status).toBe(202);
    const batch = await post(s, [report(), report({ sentAt: new Date(Date.now() - 30 * 3600_000).toISOString() })]);
    expect(batch.status).toBe(400);
    expect((await readJson(batch)).error.message).toMatch(/^1\.sentAt: /);
    expect((await s.telemetry.summary('demo'))[0]).toMatchObject({ reports: 1 });
  });

  it('refuses latency histograms of another accuracy, which could not be merged', async () => {
    const s = await start();
    const h = new LatencyHistogram({ alpha: 0.05 });
    for (const ms of [1, 2, 3, 4]) h.record(ms);
    const res = await post(s, report({}, { latencyMs: h.toJSON() }));
    expect(res.status).toBe(400);
    expect((await readJson(res)).error.message).toMatch(/models\.0\.latencyMs\.alpha: must be 0\.01/);
  });

  it('takes a batch in one request, and counts a report id repeated within it or later once', async () => {
    const s = await start();
    const a = report();
    const res = await post(s, [a, report(), a]);
    expect(res.status).toBe(202);
    expect(await readJson(res)).toEqual({ results: [{ accepted: true }, { accepted: true }, { accepted: false }] });
    expect(await readJson(await post(s, a))).toEqual({ accepted: false });
    expect((await s.telemetry.summary('demo'))[0]).toMatchObject({ reports: 2, inferences: 8 });
    expect((await post(s, [])).status).toBe(400);
    expect((await post(s, Array.from({ length: 33 }, () => report()))).status).toBe(400);
  });

  it('keys aggregates by cohort and keeps runtime latencies, error kinds and events', async () => {
    const s = await start();
    const load = new LatencyHistogram();
    load.record(120);
    const candidate = { cohort: { rollout: 'ro_0123456789ab', arm: 'candidate' }, loadMs: load.toJSON(), firstInferenceMs: load.toJSON() };
    expect((await post(s, report({}, { ...candidate, errors: 2, errorKinds: { engine: 2 }, events: { 'backend-lost': 1 } }))).status).toBe(202);
    expect((await post(s, report({}, { ...candidate, errors: 1, errorKinds: { engine: 1 } }))).status).toBe(202);
    expect((await post(s, report())).status).toBe(202);
    const rows = await s.telemetry.aggregates('demo');
    expect(rows.map((r) => [r.cohort, r.reports, r.errors])).toEqual([
      ['', 1, 0],
      ['ro_0123456789ab/candidate', 2, 3],
    ]);
    expect(rows[1]).toMatchObject({ errorKinds: { engine: 3 }, events: { 'backend-lost': 1 } });
    expect(rows[1]!.loadMs!.count).toBe(2);
    expect(rows[0]!.loadMs).toBeNull();
    // The legacy summary still merges cohorts per version and backend.
    expect(await s.telemetry.summary('demo')).toEqual([expect.objectContaining({ reports: 3, inferences: 12, errors: 3 })]);
  });

  it('rate-limits per app and client address with 429 and Retry-After; other clients go on', async () => {
    let address = '10.0.0.1';
    const s = await start({ rateLimit: { capacity: 3, refillPerSecond: 0.5 }, clientAddress: () => address });
    for (let i = 0; i < 3; i++) expect((await post(s, report())).status).toBe(202);
    const limited = await post(s, report());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect((await readJson(limited)).error.code).toBe('rate_limited');
    address = '10.0.0.2';
    expect((await post(s, report())).status).toBe(202);
    // A batch pays one token per report.
    const batch = await post(s, [report(), report(), report()]);
    expect(batch.status).toBe(429);
    expect((await s.telemetry.summary('demo'))[0]).toMatchObject({ reports: 4 });
  });

  it('answers 503 with Retry-After when too many requests are in flight, and recovers', async () => {
    const s = await start({ maxInFlight: 2, rateLimit: false, batch: { maxDelayMs: 50 } });
    // 2 requests wait in the batcher for 50 ms; the third finds no room.
    const waiting = [post(s, report()), post(s, report())];
    await new Promise((resolve) => setTimeout(resolve, 10));
    const refused = await post(s, report());
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect((await Promise.all(waiting)).map((r) => r.status)).toEqual([202, 202]);
    expect(s.ingest.inFlight).toBe(0);
    expect((await post(s, report())).status).toBe(202);
  });

  it('answers 503 when the write queue is full instead of buffering without bound', async () => {
    const s = await start({ rateLimit: false, batch: { maxQueued: 3, maxDelayMs: 50 } });
    const first = post(s, [report(), report()]);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const refused = await post(s, [report(), report()]);
    expect(refused.status).toBe(503);
    expect((await readJson(refused)).error.code).toBe('overloaded');
    expect((await first).status).toBe(202);
    expect((await s.telemetry.summary('demo'))[0]).toMatchObject({ reports: 2 });
  });

  it('answers 413 to an oversized chunked body without a Content-Length', async () => {
    const s = await start();
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
      const small = await chunked(1); // within the limit: read, then refused as bad JSON
      expect(small.status).toBe(400);
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  });

  it('over real HTTP, answers with CORS headers on success and on every refusal a browser must read', async () => {
    const s = await start();
    const http = serve({ fetch: s.app.fetch, port: 0, hostname: '127.0.0.1' });
    try {
      await new Promise<void>((resolve) => http.once('listening', resolve));
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/v1/apps/demo/telemetry`;
      const send = (body: string) => fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'application/json', Origin: 'https://kiosk.example' } });
      const ok = await send(JSON.stringify(report()));
      expect(ok.status).toBe(202);
      expect(ok.headers.get('access-control-allow-origin')).toBe('*');
      expect(await ok.json()).toEqual({ accepted: true });
      const bad = await send('{"not":');
      expect(bad.status).toBe(400);
      expect(bad.headers.get('access-control-allow-origin')).toBe('*');
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/not valid JSON/);
      const big = await send(JSON.stringify({ pad: 'x'.repeat(70 * 1024) }));
      expect(big.status).toBe(413);
      expect(big.headers.get('access-control-allow-origin')).toBe('*');
      expect(((await big.json()) as { error: { message: string } }).error.message).toMatch(/limited to 65536 bytes; send fewer reports per request/);
      const preflight = await fetch(url, { method: 'OPTIONS', headers: { Origin: 'https://kiosk.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Content-Type/i);
      expect((await s.telemetry.summary('demo'))[0]).toMatchObject({ reports: 1 });
    } finally {
      await new Promise((resolve) => http.close(resolve));
    }
  });
});
