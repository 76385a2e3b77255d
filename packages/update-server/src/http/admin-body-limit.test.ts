import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestServer, readJson, type TestServer } from '../test-support.js';

/** A body of `bytes` spaces, produced only as the server pulls it; `pulled()` says how much it read. */
function lazyBody(bytes: number) {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= bytes) return controller.close();
      const chunk = new Uint8Array(Math.min(64 * 1024, bytes - pulled)).fill(0x20);
      pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
  });
  return { stream, pulled: () => pulled };
}

describe('admin JSON bodies', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await createTestServer();
  }, 60_000);
  afterAll(() => server.dispose());

  const post = (path: string, body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}) =>
    server.app.request(path, { method: 'POST', body, duplex: 'half', headers: { 'Content-Type': 'application/json', ...server.auth(), ...headers } } as RequestInit);

  it('are refused with 413 from their declared length, before anything is read', async () => {
    const body = lazyBody(48 * 1024 * 1024);
    const res = await post('/v1/admin/apps/demo/rollouts', body.stream, { 'Content-Length': String(48 * 1024 * 1024) });
    expect(res.status).toBe(413);
    expect((await readJson(res)).error).toMatchObject({ code: 'payload_too_large', message: expect.stringMatching(/limited to 1048576 bytes/) });
    expect(body.pulled()).toBeLessThanOrEqual(64 * 1024);
  });

  it('are refused with 413 once a chunked body passes the limit, not after reading all of it', async () => {
    const body = lazyBody(48 * 1024 * 1024);
    const res = await post('/v1/admin/apps/demo/tokens', body.stream);
    expect(res.status).toBe(413);
    expect(body.pulled()).toBeLessThan(2 * 1024 * 1024);
  });

  it('under the limit still reach validation', async () => {
    const res = await server.app.request('/v1/admin/apps/demo/rollouts', {
      method: 'POST',
      body: JSON.stringify({ model: 'vad', toVersion: '9.9.9', steps: [{ percentage: 10 }], padding: ' '.repeat(512 * 1024) }),
      headers: { 'Content-Type': 'application/json', ...server.auth() },
    });
    expect(res.status).toBeLessThan(500);
    expect(res.status).not.toBe(413);
  });
});
