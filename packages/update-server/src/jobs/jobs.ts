/**
 * Background work of the server, in one place: the rollout scheduler, telemetry releases, pruning,
 * latency-range narrowing. `createApp` registers the jobs; whoever serves the app starts them
 * (`startServer` does) and stops them on close. Tests never start timers: they move a fake clock and
 * call {@link Jobs.run}, which runs a job exactly as its timer would.
 */

/** One unit of background work: what it is called, how often it runs, what it does at `now`. */
export interface Job {
  name: string;
  everyMs: number;
  run(now: Date): Promise<unknown>;
}

/** Timers, injectable so tests can replace them. */
export interface Timers {
  set(fn: () => void, ms: number): () => void;
}

export const nodeTimers: Timers = {
  set(fn, ms) {
    const timer = setTimeout(fn, ms);
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};

export interface JobsOptions {
  now?: () => number;
  timers?: Timers;
  log?: (message: string, error?: unknown) => void;
}

export class Jobs {
  readonly #jobs = new Map<string, Job>();
  readonly #running = new Map<string, Promise<unknown>>();
  readonly #cancel = new Map<string, () => void>();
  readonly #now: () => number;
  readonly #timers: Timers;
  readonly #log: (message: string, error?: unknown) => void;
  #started = false;

  constructor(options: JobsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? nodeTimers;
    this.#log = options.log ?? ((message, error) => console.error(message, error ?? ''));
  }

  /** Registers a job; names are unique. */
  add(job: Job): this {
    if (this.#jobs.has(job.name)) throw new Error(`job "${job.name}" is registered twice`);
    if (!(job.everyMs > 0)) throw new RangeError(`job "${job.name}" needs everyMs > 0, got ${job.everyMs}`);
    this.#jobs.set(job.name, job);
    if (this.#started) this.#schedule(job);
    return this;
  }

  get names(): string[] {
    return [...this.#jobs.keys()];
  }

  get started(): boolean {
    return this.#started;
  }

  /** Runs every job on its period until {@link stop}; the first run of each comes after one period. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    for (const job of this.#jobs.values()) this.#schedule(job);
  }

  /** Cancels the timers and waits for runs in progress. */
  async stop(): Promise<void> {
    this.#started = false;
    for (const cancel of this.#cancel.values()) cancel();
    this.#cancel.clear();
    await Promise.allSettled([...this.#running.values()]);
  }

  /**
   * Runs job `name` now (at the clock's time) and resolves with its result. A run already in
   * progress is awaited and the job runs again after it: two runs of one job never overlap.
   */
  async run<T = unknown>(name: string): Promise<T> {
    const job = this.#jobs.get(name);
    if (!job) throw new Error(`no job "${name}"; jobs: ${this.names.join(', ')}`);
    while (this.#running.has(name)) await this.#running.get(name)!.catch(() => undefined);
    const run = job.run(new Date(this.#now()));
    this.#running.set(name, run);
    try {
      return (await run) as T;
    } finally {
      this.#running.delete(name);
    }
  }

  #schedule(job: Job): void {
    this.#cancel.set(
      job.name,
      this.#timers.set(() => {
        this.run(job.name)
          .catch((error: unknown) => this.#log(`job ${job.name} failed`, error))
          .finally(() => {
            if (this.#started) this.#schedule(job);
          });
      }, job.everyMs),
    );
  }
}
