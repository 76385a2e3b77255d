import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, readJson, type TestServer } from '../test-support.js';

describe('the audit log', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await createTestServer();
  }, 60_000);
  afterAll(() => server.dispose());

  it('records the request id the server made, never one the client chose', async () => {
    const res = await server.app.request('/v1/admin/apps/demo/tokens', {
      method: 'POST',
      body: JSON.stringify({ name: 'ci', scopes: ['read'] }),
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': 'forged-by-client', ...server.auth() },
    });
    expect(res.status).toBe(201);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const log = await readJson(await server.app.request('/v1/admin/apps/demo/audit?limit=10', { headers: server.auth() }));
    const entry = log.entries.find((e: { action: string }) => e.action === 'token.create');
    expect(entry.requestId).toBe(requestId);
    expect(JSON.stringify(log)).not.toContain('forged-by-client');
  });

  it('cannot be truncated', async () => {
    await expect(server.db.query('truncate audit_log')).rejects.toThrow(/append-only/);
    expect((await server.db.query('select 1 from audit_log')).length).toBeGreaterThan(0);
  });
});
