/** Settings of a {@link TokenBucketLimiter}. */
export interface RateLimitOptions {
  /** Burst: requests a client may make at once. Default 60. */
  capacity?: number;
  /** Sustained requests per second per client. Default 1. */
  refillPerSecond?: number;
  /** Clients tracked at most; past it, new clients share one bucket. Default 10,000. */
  maxKeys?: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterS: number };

interface Bucket {
  tokens: number;
  at: number;
}

/** Refilled buckets looked at, from the least recently seen, to make room for one new key. */
const EVICTION_SCAN = 16;

/**
 * Token buckets per key (app and client address), in memory, bounded to `maxKeys`. A bucket is
 * forgotten only once it has refilled completely: a new bucket starts full, so forgetting it then
 * changes no answer, and no flood of other keys can hand a limited client its budget back. When
 * every tracked bucket still owes tokens, new keys share one overflow bucket: a flood of distinct
 * keys is limited as one client and costs a fixed amount of memory.
 */
export class TokenBucketLimiter {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly maxKeys: number;
  /** Map order is recency order: a key is re-inserted on every take. */
  #buckets = new Map<string, Bucket>();
  #overflow: Bucket;
  #now: () => number;

  constructor(options: RateLimitOptions = {}, now: () => number = Date.now) {
    this.capacity = options.capacity ?? 60;
    this.refillPerSecond = options.refillPerSecond ?? 1;
    this.maxKeys = options.maxKeys ?? 10_000;
    for (const [name, value] of [['capacity', this.capacity], ['refillPerSecond', this.refillPerSecond], ['maxKeys', this.maxKeys]] as const) {
      if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`rate limit ${name} must be a finite number > 0, got ${value}`);
    }
    this.#now = now;
    this.#overflow = { tokens: this.capacity, at: now() };
  }

  /** Keys tracked now (≤ maxKeys). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes `n` tokens for `key` if it has them; otherwise says how long until it will. */
  take(key: string, n = 1): RateDecision {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket) {
      this.#buckets.delete(key); // re-inserted below: most recently seen last
      this.#buckets.set(key, bucket);
    } else {
      if (this.#buckets.size >= this.maxKeys) this.#forgetRefilled(now);
      if (this.#buckets.size < this.maxKeys) {
        bucket = { tokens: this.capacity, at: now };
        this.#buckets.set(key, bucket);
      } else {
        bucket = this.#overflow;
      }
    }
    let tokens = this.#level(bucket, now);
    const ok = tokens >= n;
    if (ok) tokens -= n;
    bucket.tokens = tokens;
    bucket.at = now;
    if (ok) return { ok: true };
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((Math.min(n, this.capacity) - tokens) / this.refillPerSecond)) };
  }

  #level(bucket: Bucket, now: number): number {
    return Math.min(this.capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.refillPerSecond);
  }

  /** Drops refilled buckets among the least recently seen; the rest keep what they owe. */
  #forgetRefilled(now: number): void {
    let looked = 0;
    for (const [key, bucket] of this.#buckets) {
      if (looked++ >= EVICTION_SCAN) return;
      if (this.#level(bucket, now) >= this.capacity) this.#buckets.delete(key);
    }
  }
}
