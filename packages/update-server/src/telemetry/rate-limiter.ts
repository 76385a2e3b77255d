/** Settings of a {@link TokenBucketLimiter}. */
export interface RateLimitOptions {
  /** Burst: requests a client may make at once. Default 60. */
  capacity?: number;
  /** Sustained requests per second per client. Default 1. */
  refillPerSecond?: number;
  /** Clients tracked at most; the least recently seen is forgotten first. Default 10,000. */
  maxKeys?: number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterS: number };

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Token buckets per key (app and client address), in memory. The map is bounded: past `maxKeys`
 * the least recently seen key is dropped, so a flood of distinct addresses costs a fixed amount of
 * memory (a forgotten client merely starts again with a full bucket).
 */
export class TokenBucketLimiter {
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly maxKeys: number;
  #buckets = new Map<string, Bucket>();
  #now: () => number;

  constructor(options: RateLimitOptions = {}, now: () => number = Date.now) {
    this.capacity = options.capacity ?? 60;
    this.refillPerSecond = options.refillPerSecond ?? 1;
    this.maxKeys = options.maxKeys ?? 10_000;
    for (const [name, value] of [['capacity', this.capacity], ['refillPerSecond', this.refillPerSecond], ['maxKeys', this.maxKeys]] as const) {
      if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`rate limit ${name} must be a finite number > 0, got ${value}`);
    }
    this.#now = now;
  }

  /** Keys tracked now (≤ maxKeys). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes `n` tokens for `key` if it has them; otherwise says how long until it will. */
  take(key: string, n = 1): RateDecision {
    const now = this.#now();
    const bucket = this.#buckets.get(key);
    let tokens = this.capacity;
    if (bucket) {
      tokens = Math.min(this.capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.refillPerSecond);
      this.#buckets.delete(key); // re-inserted below: Map order is our recency order
    } else if (this.#buckets.size >= this.maxKeys) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    const ok = tokens >= n;
    if (ok) tokens -= n;
    this.#buckets.set(key, { tokens, at: now });
    if (ok) return { ok: true };
    return { ok: false, retryAfterS: Math.max(1, Math.ceil((Math.min(n, this.capacity) - tokens) / this.refillPerSecond)) };
  }
}
