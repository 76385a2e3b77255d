/** Background update checks: on an interval, with jitter, backing off while they fail. */
export interface UpdatePolicy {
  /** Milliseconds between checks once a model is loaded. */
  intervalMs?: number;
  /** Spread each wait by ± this fraction so a fleet does not poll in lockstep. Default 0.2. */
  jitter?: number;
  /** Longest wait after repeated failures (doubling from `intervalMs`). Default 1 hour. */
  maxBackoffMs?: number;
}

export class UpdatePoller {
  readonly #policy: Required<UpdatePolicy>;
  readonly #check: () => Promise<unknown>;
  readonly #random: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  #running = false;

  constructor(policy: UpdatePolicy, check: () => Promise<unknown>, random: () => number = Math.random) {
    if (!(policy.intervalMs !== undefined && policy.intervalMs > 0)) throw new RangeError('updates.intervalMs must be a positive number of milliseconds');
    this.#policy = { intervalMs: policy.intervalMs, jitter: policy.jitter ?? 0.2, maxBackoffMs: policy.maxBackoffMs ?? 60 * 60 * 1000 };
    this.#check = check;
    this.#random = random;
  }

  /** The wait before the next check: interval × 2^failures, capped, with ± jitter. */
  nextDelay(): number {
    const base = Math.min(this.#policy.intervalMs * 2 ** this.#failures, Math.max(this.#policy.maxBackoffMs, this.#policy.intervalMs));
    return Math.max(0, base * (1 + this.#policy.jitter * (2 * this.#random() - 1)));
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#check().then(
        () => {
          this.#failures = 0;
        },
        () => {
          this.#failures += 1;
        },
      ).finally(() => this.#schedule());
    }, this.nextDelay());
    // In Node, a pending check must not keep the process alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }
}
