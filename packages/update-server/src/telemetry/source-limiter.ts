import { createHmac, randomBytes } from 'node:crypto';
import type { RateDecision } from './rate-limiter.js';

/** Settings of a {@link SourceLimiter}. */
export interface SourceLimitOptions {
  /** Reports one source address may have admitted per app per hour (also the burst). Default 16. */
  perHour?: number;
  /** Buckets kept; memory is 8 bytes each. Default 65,536 (512 KiB). */
  slots?: number;
}

const HOUR_MS = 3_600_000;

/**
 * The per-source admission limit: reports admitted per source address per app per hour. It bounds
 * how cheaply one source can fill aggregates with made-up reports (Sybil filling), on top of the
 * request rate limit.
 *
 * Its state cannot be reset by evicting entries: there are no entries. A fixed array of buckets is
 * indexed by a keyed hash (HMAC with a secret drawn at start) of (app, address); nothing is ever
 * forgotten or replaced, so a flood of fresh addresses cannot push a source's spent bucket out of
 * memory and make it full again. Sources that share a bucket share its allowance: stricter for them,
 * never looser for anyone, and the secret key keeps an attacker from choosing whom to collide with.
 *
 * Each bucket is one number, the GCRA "theoretical arrival time": a report costs `HOUR / perHour`
 * of time, and a bucket may run at most one hour ahead of the clock (burst = perHour).
 */
export class SourceLimiter {
  readonly perHour: number;
  readonly slots: number;
  readonly #tat: Float64Array;
  readonly #secret = randomBytes(32);
  readonly #now: () => number;
  readonly #cost: number;

  constructor(options: SourceLimitOptions = {}, now: () => number = Date.now) {
    this.perHour = options.perHour ?? 16;
    this.slots = options.slots ?? 65_536;
    if (!Number.isInteger(this.perHour) || this.perHour < 1) throw new RangeError(`source limit perHour must be an integer ≥ 1, got ${this.perHour}`);
    if (!Number.isInteger(this.slots) || this.slots < 1 || this.slots > 2 ** 24) throw new RangeError(`source limit slots must be an integer in [1, 2^24], got ${this.slots}`);
    this.#tat = new Float64Array(this.slots);
    this.#now = now;
    this.#cost = HOUR_MS / this.perHour;
  }

  /** Admits `n` reports from `source` for `app` if its bucket allows all of them; otherwise none. */
  take(app: string, source: string, n = 1): RateDecision {
    const slot = this.#slot(app, source);
    const now = this.#now();
    const next = Math.max(this.#tat[slot]!, now) + n * this.#cost;
    const ahead = next - now - HOUR_MS;
    if (ahead > 1e-6) return { ok: false, retryAfterS: Math.max(1, Math.ceil(ahead / 1000)) };
    this.#tat[slot] = next;
    return { ok: true };
  }

  #slot(app: string, source: string): number {
    return createHmac('sha256', this.#secret).update(app).update('\u0000').update(source).digest().readUInt32BE(0) % this.slots;
  }
}
