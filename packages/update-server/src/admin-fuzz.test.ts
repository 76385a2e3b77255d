import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, readJson, sileroV5, type TestServer } from './test-support.js';

/** Every admin route, with `:x` for a path segment the fuzzer fills (well-formed or not). */
const ROUTES: Array<[string, string]> = [
  ['GET', '/apps'], ['GET', '/apps/:app/models'], ['GET', '/apps/:app/models/:model'],
  ['GET', '/apps/:app/models/:model/versions/:version'], ['POST', '/apps/:app/models/:model/versions/:version'],
  ['POST', '/apps/:app/models/:model/versions/:version/variants/:variant/files/:role'],
  ['GET', '/apps/:app/channels'], ['PUT', '/apps/:app/models/:model/channels/:channel'],
  ['POST', '/apps/:app/models/:model/channels/:channel/pin'], ['DELETE', '/apps/:app/models/:model/channels/:channel/pin'],
  ['GET', '/apps/:app/rollouts'], ['POST', '/apps/:app/rollouts'], ['GET', '/apps/:app/rollouts/:id'],
  ...(['advance', 'pause', 'resume', 'abort', 'rollback'] as const).map((a): [string, string] => ['POST', `/apps/:app/rollouts/:id/${a}`]),
  ['GET', '/apps/:app/tokens'], ['POST', '/apps/:app/tokens'], ['DELETE', '/apps/:app/tokens/:id'],
  ['GET', '/apps/:app/audit'], ['GET', '/apps/:app/telemetry/summary'],
];

const segment = fc.oneof(
  fc.constantFrom('demo', 'vad', '5.0.0', '6.0.0', 'stable', 'default', 'model', 'ro_000000000000', 'other', 'Demo!', '..', '%00', '%2F', ''),
  fc.string({ maxLength: 80 }).map(encodeURIComponent),
);
const jsonish = fc.oneof(
  fc.jsonValue(),
  fc.record({ model: fc.constantFrom('vad', 'x', 7), toVersion: fc.constantFrom('6.0.0', '5.0.0', '9.9.9', ''), steps: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ name: fc.string(), scopes: fc.jsonValue(), expiresInDays: fc.jsonValue() }, { requiredKeys: [] }),
  fc.record({ version: fc.constantFrom('5.0.0', 'nope', 1), rules: fc.jsonValue() }, { requiredKeys: [] }),
);
const body = fc.oneof(jsonish.map((v) => JSON.stringify(v)), fc.string({ maxLength: 200 }), fc.constant(undefined), fc.uint8Array({ maxLength: 300 }));
const auth = fc.constantFrom('admin', 'read', 'other', 'none', 'garbage');

describe('admin API under random and malformed requests', () => {
  let server: TestServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    server = await createTestServer({ maxUploadBytes: 4 * 1024 * 1024 });
    const res = await server.app.request('/v1/admin/apps/demo/models/vad/versions/5.0.0', {
      method: 'POST', body: sileroV5, headers: { 'Content-Type': 'application/octet-stream', ...server.auth() },
    });
    expect(res.status).toBe(201);
    tokens.admin = server.adminToken;
    const { bootstrapToken } = await import('./auth/bootstrap.js');
    tokens.read = (await bootstrapToken(server.db, { app: 'demo', scopes: ['read'] })).token;
    tokens.other = (await bootstrapToken(server.db, { app: 'other' })).token;
  });
  afterAll(() => server.dispose());

  /** All persistent state except tokens.last_used_at, which records that a valid token was seen. */
  async function state(): Promise<string> {
    const tables = ['apps', 'models', 'model_versions', 'variants', 'variant_files', 'blobs', 'channels', 'rollouts', 'audit_log', 'idempotency_keys'];
    const out: Record<string, unknown> = {};
    for (const table of tables) out[table] = await server.db.query(`select * from ${table} order by 1, 2`);
    out.tokens = await server.db.query('select id, app, scopes, revoked_at, expires_at from tokens order by id');
    out.files = await server.storedFiles();
    return JSON.stringify(out);
  }

  it('never answers 500 and changes nothing when it rejects', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), fc.array(segment, { minLength: 8, maxLength: 8 }), body, auth, fc.constantFrom('application/json', 'application/octet-stream', 'text/plain', undefined), async ([method, template], segments, payload, who, contentType) => {
        let i = 0;
        const path = template.replace(/:[a-z]+/g, () => segments[i++]!);
        const headers: Record<string, string> = {};
        if (who === 'garbage') headers.Authorization = 'Bearer elk_garbage';
        else if (who !== 'none') headers.Authorization = `Bearer ${tokens[who]}`;
        if (contentType) headers['Content-Type'] = contentType;
        const before = await state();
        const res = await server.app.request(`/v1/admin${path}`, { method, headers, ...(method !== 'GET' && payload !== undefined && { body: payload }) });
        expect(res.status, `${method} ${path}`).toBeLessThan(500);
        if (res.status >= 400) {
          const error = (await readJson(res)).error;
          expect(error.code).toEqual(expect.any(String));
          expect(JSON.stringify(error)).not.toMatch(/\n\s+at /); // no stack traces
          expect(await state()).toBe(before);
        } else {
          await res.arrayBuffer();
        }
      }),
      { numRuns: 250 },
    );
  });
});
