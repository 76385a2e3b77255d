import { describe, expect, it } from 'vitest';
import { TokenBucketLimiter } from './rate-limiter.js';

describe('TokenBucketLimiter', () => {
  it('allows a burst, then refills at the set rate and says when to retry', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ capacity: 2, refillPerSecond: 0.5 }, () => now);
    expect(limiter.take('a')).toEqual({ ok: true });
    expect(limiter.take('a')).toEqual({ ok: true });
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterS: 2 });
    now = 1000; // half a token back
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterS: 1 });
    now = 2000;
    expect(limiter.take('a')).toEqual({ ok: true });
    expect(limiter.take('b', 2)).toEqual({ ok: true });
    expect(limiter.take('b', 3)).toMatchObject({ ok: false });
  });

  it('tracks at most maxKeys clients, forgetting the least recently seen', () => {
    const limiter = new TokenBucketLimiter({ capacity: 1, refillPerSecond: 0.001, maxKeys: 100 }, () => 0);
    for (let i = 0; i < 10_000; i++) limiter.take(`client-${i}`);
    expect(limiter.size).toBe(100);
    // The most recent one is still tracked (and empty); an evicted one starts full again.
    expect(limiter.take('client-9999').ok).toBe(false);
    expect(limiter.take('client-0').ok).toBe(true);
  });

  it('refuses settings that would quietly disable it', () => {
    expect(() => new TokenBucketLimiter({ capacity: 0 })).toThrow(/capacity must be a finite number > 0/);
    expect(() => new TokenBucketLimiter({ refillPerSecond: Number.NaN })).toThrow(/refillPerSecond/);
  });
});
