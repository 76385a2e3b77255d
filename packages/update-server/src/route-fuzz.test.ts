import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from './server.js';
import { sileroV5 } from './test-support.js';

const seededHash = createHash('sha256').update(sileroV5).digest('hex');

/** Every route of the server, with `:x` for a segment the fuzzer fills (well-formed or hostile). */
const ROUTES = [
  '/healthz', '/v1/keys', '/v1/apps/:app/manifest', '/v1/apps/:app/telemetry', '/v1/artifacts/sha256/:sha256',
  '/v1/apps/:app/models/:model/versions/:version/profile',
  '/v1/admin/openapi.json', '/v1/admin/reference', '/v1/admin/reference/:file',
  '/v1/admin/apps', '/v1/admin/apps/:app/models', '/v1/admin/apps/:app/models/:model', '/v1/admin/apps/:app/models/:model/versions/:version',
  '/v1/admin/apps/:app/models/:model/versions/:version/variants/:variant/files/:role',
  '/v1/admin/apps/:app/channels', '/v1/admin/apps/:app/models/:model/channels/:channel', '/v1/admin/apps/:app/models/:model/channels/:channel/pin',
  '/v1/admin/apps/:app/rollouts', '/v1/admin/apps/:app/rollouts/:id', '/v1/admin/apps/:app/rollouts/:id/advance', '/v1/admin/apps/:app/rollouts/:id/rollback',
  '/v1/admin/apps/:app/tokens', '/v1/admin/apps/:app/tokens/:id', '/v1/admin/apps/:app/audit', '/v1/admin/apps/:app/gc',
  '/v1/admin/apps/:app/telemetry/summary', '/v1/admin/apps/:app/telemetry/drift', '/v1/admin/apps/:app/telemetry/performance',
  '/:anything', '/v1/:anything/:anything',
];

const printable = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });
const segment = fc.oneof(
  fc.constantFrom('demo', 'vad', '5.0.0', 'stable', 'default', 'model', 'weights', seededHash, 'swagger-ui.css', 'ro_000000000000', '..', '%2e%2e', '%00', '%2F', '%ff', 'a'.repeat(300)),
  fc.string({ maxLength: 120 }).map(encodeURIComponent),
);
const query = fc.oneof(
  fc.constant(''),
  fc.constantFrom('?channel=beta', '?channel=', '?channel=%00', '?channel=Not%20OK', '?limit=-1&before=x', '?limit=99999999999999999999', '?format=tfjs-graph', '?window=1e309'),
  printable(200).map((q) => `?${encodeURIComponent(q)}=${encodeURIComponent(q)}`),
);
const headerValue = fc.oneof(
  fc.constantFrom('bytes=0-', 'bytes=-1', 'bytes=99999999999999999999-', 'bytes=5-2', 'bytes=0-0,1-1', '*', `"${seededHash}"`, 'W/"x"', 'application/json', 'application/octet-stream', 'text/plain; charset=utf-8'),
  printable(300),
);
const header = fc.tuple(
  fc.constantFrom('range', 'if-range', 'if-none-match', 'content-type', 'origin', 'authorization', 'idempotency-key', 'accept', 'x-request-id', 'access-control-request-method'),
  headerValue,
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  printable(2000),
  fc.uint8Array({ maxLength: 4096 }),
  fc.constant(JSON.stringify({ schema: 2, reportId: 'not-a-uuid', app: 'demo', sentAt: 'yesterday', models: [{ inferences: -1 }] })),
);

/**
 * Hostile requests to every route over real HTTP (methods, path segments, query strings,
 * headers, bodies): never a 5xx, never a dead server, never an 'unhandled error' in the log.
 */
describe('every route under hostile input', () => {
  let dir: string;
  let server: RunningServer;
  const logged: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeloop-route-fuzz-'));
    server = await startServer({ dataDir: dir, port: 0, issueAdminTokenFor: 'demo', maxUploadBytes: 4 * 1024 * 1024, log: (line) => logged.push(line) });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('never answers 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
        fc.constantFrom(...ROUTES),
        fc.array(segment, { minLength: 8, maxLength: 8 }),
        query,
        fc.array(header, { maxLength: 4 }),
        body,
        fc.boolean(),
        async (method, template, segments, search, headers, payload, authorised) => {
          let i = 0;
          const path = template.replace(/:[a-z0-9]+/g, () => segments[i++]!).replace(/^\/+/, '');
          const init: Record<string, string> = Object.fromEntries(headers);
          if (authorised) init.authorization = `Bearer ${server.adminToken}`;
          const sendsBody = payload !== undefined && method !== 'GET' && method !== 'HEAD';
          const res = await fetch(`${server.url}${path}${search}`, { method, headers: init, ...(sendsBody && { body: payload }) });
          await res.arrayBuffer();
          expect(res.status, `${method} /${path}${search} ${JSON.stringify(headers)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 400 },
    );
    expect((await fetch(new URL('v1/apps/demo/manifest', server.url))).status).toBe(200);
    expect(logged.filter((line) => /unhandled/i.test(line))).toEqual([]);
  }, 120_000);
});
