import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUCKETS, bucketOf, inRollout, thresholdOf } from './bucket.js';
import { murmur3 } from './hash.js';

const installId = fc.uuid();
const salt = fc.string({ minLength: 1, maxLength: 40 });
const percentage = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);

describe('murmur3', () => {
  it('matches the reference MurmurHash3 x86_32 vectors', () => {
    // Vectors from the reference implementation (SMHasher) as listed by common ports.
    expect(murmur3('', 0)).toBe(0);
    expect(murmur3('', 1)).toBe(0x514e28b7);
    expect(murmur3('test', 0)).toBe(0xba6bd213);
    expect(murmur3('Hello, world!', 0)).toBe(0xc0363e43);
    expect(murmur3('The quick brown fox jumps over the lazy dog', 0)).toBe(0x2e4ff723);
  });
});

describe('sticky buckets', () => {
  it('are deterministic and in range', () => {
    fc.assert(
      fc.property(salt, installId, (s, id) => {
        const b = bucketOf(s, id);
        expect(b).toBe(bucketOf(s, id));
        expect(Number.isInteger(b) && b >= 0 && b < BUCKETS).toBe(true);
      }),
    );
  });

  it('raising the percentage never removes a device', () => {
    fc.assert(
      fc.property(salt, installId, percentage, percentage, (s, id, p1, p2) => {
        const [low, high] = p1 <= p2 ? [p1, p2] : [p2, p1];
        if (inRollout(s, id, low)) expect(inRollout(s, id, high)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('0 % includes nobody and 100 % everybody', () => {
    fc.assert(fc.property(salt, installId, (s, id) => !inRollout(s, id, 0) && inRollout(s, id, 100)));
  });

  it('puts close to the requested share of random installs in the rollout', () => {
    fc.assert(
      fc.property(salt, fc.constantFrom(1, 5, 25, 50), fc.array(installId, { minLength: 4000, maxLength: 4000 }), (s, pct, ids) => {
        const share = ids.filter((id) => inRollout(s, id, pct)).length / ids.length;
        // 4000 draws: 5 standard deviations of a binomial share is at most 0.04.
        const sd = Math.sqrt((pct / 100) * (1 - pct / 100) / ids.length);
        expect(Math.abs(share - pct / 100)).toBeLessThan(5 * sd);
      }),
      { numRuns: 20 },
    );
  });

  it('keeps the percentage resolution at 0.01 %', () => {
    expect(thresholdOf(0.01)).toBe(1);
    expect(thresholdOf(12.34)).toBe(1234);
    expect(thresholdOf(100)).toBe(BUCKETS);
  });
});
