import { describe, expect, it } from 'vitest';
import { SourceLimiter } from './source-limiter.js';

describe('SourceLimiter', () => {
  it('admits 16 reports per source per app per hour, then one every 225 s', () => {
    let now = 1_000_000;
    const limiter = new SourceLimiter({}, () => now);
    expect(limiter.take('demo', '10.0.0.1', 16)).toEqual({ ok: true });
    expect(limiter.take('demo', '10.0.0.1')).toEqual({ ok: false, retryAfterS: 225 });
    expect(limiter.take('other', '10.0.0.1')).toEqual({ ok: true }); // per app
    now += 225_000;
    expect(limiter.take('demo', '10.0.0.1')).toEqual({ ok: true });
    expect(limiter.take('demo', '10.0.0.1').ok).toBe(false);
    expect(limiter.take('demo', '10.0.0.2', 17).ok).toBe(false); // more than an hour's worth never passes
  });

  it('cannot be reset by a flood of other sources: nothing is ever evicted', () => {
    const now = () => 5_000_000;
    const limiter = new SourceLimiter({ slots: 4096 }, now);
    expect(limiter.take('demo', 'attacker', 16).ok).toBe(true);
    for (let i = 0; i < 20_000; i++) {
      limiter.take('demo', `198.51.${i >> 8}.${i & 255}`);
    }
    // 20,000 sources over 4,096 buckets: every bucket was touched, none was reset.
    expect(limiter.take('demo', 'attacker').ok).toBe(false);
  });
});
