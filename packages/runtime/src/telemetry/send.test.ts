import { describe, expect, it } from 'vitest';
import { backoffDelay, parseRetryAfter, postReports } from './send.js';

describe('postReports', () => {
  const answer = (status: number, headers: Record<string, string> = {}) => (async () => new Response(null, { status, headers })) as unknown as typeof fetch;

  it('sends one report as an object and several as a JSON array', async () => {
    const bodies: string[] = [];
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      bodies.push(init.body as string);
      return new Response(null, { status: 202 });
    }) as unknown as typeof fetch;
    await postReports(fetchImpl, 'http://x/t', ['{"a":1}'], false, Date.now);
    await postReports(fetchImpl, 'http://x/t', ['{"a":1}', '{"b":2}'], false, Date.now);
    expect(bodies.map((b) => JSON.parse(b))).toEqual([{ a: 1 }, [{ a: 1 }, { b: 2 }]]);
  });

  it('classifies answers: 2xx sent, 429 and 5xx retry (with Retry-After), other 4xx drop, network failure retry', async () => {
    expect(await postReports(answer(204), 'u', ['{}'], false, Date.now)).toEqual({ kind: 'sent' });
    expect(await postReports(answer(429, { 'Retry-After': '7' }), 'u', ['{}'], false, Date.now)).toEqual({ kind: 'retry', reason: 'the server answered 429', retryAfterMs: 7000 });
    expect(await postReports(answer(503), 'u', ['{}'], false, Date.now)).toEqual({ kind: 'retry', reason: 'the server answered 503' });
    expect(await postReports(answer(413), 'u', ['{}'], false, Date.now)).toEqual({ kind: 'drop', reason: 'the server answered 413' });
    const offline = (async () => {
      throw new TypeError('fetch failed');
    }) as unknown as typeof fetch;
    expect(await postReports(offline, 'u', ['{}'], false, Date.now)).toEqual({ kind: 'retry', reason: 'the network failed: fetch failed' });
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.UTC(2026, 0, 1, 0, 0, 0);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('doubles per attempt up to the cap, with jitter in the upper half', () => {
    const options = { initialMs: 1000, maxMs: 8000 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, options, () => 0))).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
    expect([0, 1, 2, 3, 4].map((a) => backoffDelay(a, options, () => 0.999999))).toEqual([1000, 2000, 4000, 8000, 8000].map((d) => expect.closeTo(d, 0)));
  });
});
