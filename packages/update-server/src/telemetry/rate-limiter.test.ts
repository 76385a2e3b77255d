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

  it('tracks at most maxKeys clients', () => {
    const limiter = new TokenBucketLimiter({ capacity: 1, refillPerSecond: 0.001, maxKeys: 100 }, () => 0);
    for (let i = 0; i < 10_000; i++) limiter.take(`client-${i}`);
    expect(limiter.size).toBe(100);
  });

  it('cannot be reset by a flood of other keys: a bucket that owes tokens is never forgotten', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ capacity: 2, refillPerSecond: 1, maxKeys: 100 }, () => now);
    expect(limiter.take('victim', 2)).toEqual({ ok: true });
    expect(limiter.take('victim')).toMatchObject({ ok: false });
    // What a limited client does to get its budget back: requests under many made-up keys
    // (other app names, other source ports…), enough to push it out of a least-recently-seen map.
    for (let i = 0; i < 10_000; i++) limiter.take(`made-up-${i}`);
    expect(limiter.size).toBeLessThanOrEqual(100);
    expect(limiter.take('victim')).toMatchObject({ ok: false });
    // Keys that do not fit share one bucket: a flood of new keys is limited as one client.
    expect(limiter.take('made-up-fresh')).toMatchObject({ ok: false });
  });

  it('forgets a bucket once it has refilled, which loses nothing', () => {
    let now = 0;
    const limiter = new TokenBucketLimiter({ capacity: 2, refillPerSecond: 1, maxKeys: 2 }, () => now);
    expect(limiter.take('a', 2)).toEqual({ ok: true });
    expect(limiter.take('b', 2)).toEqual({ ok: true });
    // a and b still owe tokens: c and e share the one overflow bucket.
    expect(limiter.take('c', 2)).toEqual({ ok: true });
    expect(limiter.take('e')).toMatchObject({ ok: false });
    now = 2_000; // a and b are full again: forgetting them changes no answer
    expect(limiter.take('c', 2)).toEqual({ ok: true });
    expect(limiter.take('c')).toMatchObject({ ok: false }); // c has a bucket of its own now
    expect(limiter.take('d', 2)).toEqual({ ok: true });
    expect(limiter.size).toBe(2);
  });

  it('refuses settings that would quietly disable it', () => {
    expect(() => new TokenBucketLimiter({ capacity: 0 })).toThrow(/capacity must be a finite number > 0/);
    expect(() => new TokenBucketLimiter({ refillPerSecond: Number.NaN })).toThrow(/refillPerSecond/);
  });
});
