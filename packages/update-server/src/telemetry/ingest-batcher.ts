import type { IngestItem, IngestResult } from './window-store.js';

/** Settings of an {@link IngestBatcher}. */
export interface BatchOptions {
  /** Most reports per transaction. Default 256. */
  maxReports?: number;
  /**
   * How long the first report of a batch waits for company, ms. Default 0: it waits only for the
   * requests already read in the same turn of the event loop (`setImmediate`); under load, what
   * arrives while a write runs forms the next batch anyway.
   */
  maxDelayMs?: number;
  /** Reports waiting at most; beyond it {@link IngestBatcher.submit} refuses (the route answers 503). Default 4096. */
  maxQueued?: number;
}

/** Thrown by {@link IngestBatcher.submit} when the queue is full: shed load, do not buffer it. */
export class IngestOverloaded extends Error {
  override readonly name = 'IngestOverloaded';
}

interface Pending {
  item: IngestItem;
  resolve(result: IngestResult): void;
  reject(error: unknown): void;
}

/**
 * Group commit: reports arriving together are written in one transaction, at most `maxReports`
 * at a time, the first one waiting at most `maxDelayMs`; one write runs at a time, and what arrives
 * meanwhile forms the next batch. Each caller's promise settles after its batch committed, so a
 * 202 means "persisted". A failed batch is retried report by report, so one bad report fails alone;
 * replays stay harmless because the report id is written in the same transaction as its counts.
 */
export class IngestBatcher {
  readonly maxReports: number;
  readonly maxDelayMs: number;
  readonly maxQueued: number;
  #write: (items: readonly IngestItem[]) => Promise<IngestResult[]>;
  #queue: Pending[] = [];
  #writing: Promise<void> | null = null;
  #timer: { cancel(): void } | null = null;

  constructor(write: (items: readonly IngestItem[]) => Promise<IngestResult[]>, options: BatchOptions = {}) {
    this.#write = write;
    this.maxReports = options.maxReports ?? 256;
    this.maxDelayMs = options.maxDelayMs ?? 0;
    this.maxQueued = options.maxQueued ?? 4096;
  }

  /** Reports waiting for a transaction. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Whether `n` more reports fit in the queue now. */
  hasRoomFor(n: number): boolean {
    return this.#queue.length + n <= this.maxQueued;
  }

  /** Queues one report; resolves once it is persisted (or recognised as a replay). */
  submit(item: IngestItem): Promise<IngestResult> {
    if (!this.hasRoomFor(1)) return Promise.reject(new IngestOverloaded(`ingest queue is full (${this.maxQueued} reports)`));
    const promise = new Promise<IngestResult>((resolve, reject) => this.#queue.push({ item, resolve, reject }));
    this.#schedule();
    return promise;
  }

  /** Resolves when everything queued so far is written. */
  async drain(): Promise<void> {
    while (this.#queue.length > 0 || this.#writing) {
      if (this.#timer) this.#fire();
      await this.#writing;
    }
  }

  #schedule(): void {
    if (this.#writing) return; // the running write picks the queue up when it ends
    if (this.#queue.length >= this.maxReports) return this.#fire();
    this.#timer ??= this.#wait(() => this.#fire());
  }

  #wait(fn: () => void): { cancel(): void } {
    if (this.maxDelayMs > 0) {
      const timer = setTimeout(fn, this.maxDelayMs);
      return { cancel: () => clearTimeout(timer) };
    }
    const immediate = setImmediate(fn);
    return { cancel: () => clearImmediate(immediate) };
  }

  #fire(): void {
    this.#timer?.cancel();
    this.#timer = null;
    if (this.#writing || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.maxReports);
    this.#writing = this.#run(batch).finally(() => {
      this.#writing = null;
      if (this.#queue.length > 0) this.#fire();
    });
  }

  async #run(batch: Pending[]): Promise<void> {
    try {
      const results = await this.#write(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      for (const pending of batch) await this.#run([pending]);
    }
  }
}
