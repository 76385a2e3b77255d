import { TelemetryError } from '../errors.js';

/** What a {@link PrivacyBudget} keeps in storage: one small JSON record per device. */
export interface PrivacyBudgetRecord {
  /** Start of the current accounting period, ms since the epoch. */
  periodStart: number;
  /** ε spent in this period, in millionths so that sums stay exact integers. */
  spentMicros: number;
  /** Keys (e.g. `model@version/windowStart`) already reported this period. */
  charged: string[];
}

/** Storage adapter (IndexedDB, a file, memory): passed in, never detected. */
export interface PrivacyBudgetStore {
  get(): Promise<PrivacyBudgetRecord | undefined>;
  set(record: PrivacyBudgetRecord): Promise<void>;
}

export interface PrivacyBudgetOptions {
  store: PrivacyBudgetStore;
  /** Total ε the device may spend per period. Default 96: 24 hourly reports at the default ε = 4. */
  epsilonPerPeriod?: number;
  /** Period length in ms. Default one day. */
  periodMs?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
  /** Most distinct keys per period; bounds the record's size. Default 1024. */
  maxKeysPerPeriod?: number;
}

/** Outcome of {@link PrivacyBudget.charge}. */
export type BudgetDecision =
  | { granted: true; spent: number; remaining: number }
  | { granted: false; reason: 'already_reported' | 'exhausted'; spent: number; remaining: number };

const MICROS = 1_000_000;

/**
 * A device's privacy budget: a report may leave only if its key (one per model and window) has not
 * been charged this period and its ε fits in what remains. This enforces "at most one report per
 * model per window" and caps the ε a device spends per period. Charges are serialized, so two
 * concurrent flushes cannot both spend the last of the budget.
 *
 * @example
 * const budget = new PrivacyBudget({ store: idbBudgetStore });
 * const decision = await budget.charge(`vad@5/${windowStart}`, 4);
 * if (decision.granted) send(report); // else drop the summaries
 */
export class PrivacyBudget {
  readonly epsilonPerPeriod: number;
  readonly periodMs: number;
  #store: PrivacyBudgetStore;
  #now: () => number;
  #maxKeys: number;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: PrivacyBudgetOptions) {
    this.epsilonPerPeriod = options.epsilonPerPeriod ?? 96;
    this.periodMs = options.periodMs ?? 86_400_000;
    this.#maxKeys = options.maxKeysPerPeriod ?? 1024;
    if (!(this.epsilonPerPeriod > 0) || !Number.isFinite(this.epsilonPerPeriod)) {
      throw new TelemetryError('invalid_argument', `epsilonPerPeriod must be a finite number > 0, got ${this.epsilonPerPeriod}`);
    }
    if (!Number.isSafeInteger(this.periodMs) || this.periodMs <= 0) {
      throw new TelemetryError('invalid_argument', `periodMs must be a positive integer, got ${this.periodMs}`);
    }
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
  }

  /** Spends `epsilon` for `key` if allowed; persists the new state before answering. */
  charge(key: string, epsilon: number): Promise<BudgetDecision> {
    if (!(epsilon > 0) || !Number.isFinite(epsilon)) {
      return Promise.reject(new TelemetryError('invalid_argument', `epsilon to charge must be a finite number > 0, got ${epsilon}`));
    }
    const run = this.#queue.then(() => this.#charge(key, Math.ceil(epsilon * MICROS)));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** ε spent and remaining in the current period. */
  async state(): Promise<{ periodStart: number; spent: number; remaining: number }> {
    const record = await this.#current();
    return { periodStart: record.periodStart, spent: record.spentMicros / MICROS, remaining: this.#remaining(record) };
  }

  async #charge(key: string, micros: number): Promise<BudgetDecision> {
    const record = await this.#current();
    const spent = record.spentMicros / MICROS;
    if (record.charged.includes(key)) return { granted: false, reason: 'already_reported', spent, remaining: this.#remaining(record) };
    const limit = Math.floor(this.epsilonPerPeriod * MICROS);
    if (record.spentMicros + micros > limit || record.charged.length >= this.#maxKeys) {
      return { granted: false, reason: 'exhausted', spent, remaining: this.#remaining(record) };
    }
    const next = { periodStart: record.periodStart, spentMicros: record.spentMicros + micros, charged: [...record.charged, key] };
    try {
      await this.#store.set(next);
    } catch (error) {
      throw new TelemetryError('storage_failed', `could not persist the privacy budget: ${TelemetryError.fromUnknown(error).message}`, error);
    }
    return { granted: true, spent: next.spentMicros / MICROS, remaining: this.#remaining(next) };
  }

  async #current(): Promise<PrivacyBudgetRecord> {
    let stored: PrivacyBudgetRecord | undefined;
    try {
      stored = await this.#store.get();
    } catch (error) {
      throw new TelemetryError('storage_failed', `could not read the privacy budget: ${TelemetryError.fromUnknown(error).message}`, error);
    }
    const periodStart = Math.floor(this.#now() / this.periodMs) * this.periodMs;
    if (stored === undefined || stored.periodStart !== periodStart) return { periodStart, spentMicros: 0, charged: [] };
    if (!Number.isSafeInteger(stored.spentMicros) || stored.spentMicros < 0 || !Array.isArray(stored.charged)) {
      // A corrupted record must not silently reset the budget to zero.
      throw new TelemetryError('storage_failed', 'stored privacy budget record is corrupted; clear it only if the device may start a fresh period');
    }
    return stored;
  }

  #remaining(record: PrivacyBudgetRecord): number {
    return Math.max(0, Math.floor(this.epsilonPerPeriod * MICROS) - record.spentMicros) / MICROS;
  }
}

/** An in-memory {@link PrivacyBudgetStore}, for tests and short-lived processes. */
export function memoryBudgetStore(initial?: PrivacyBudgetRecord): PrivacyBudgetStore {
  const copy = (r: PrivacyBudgetRecord): PrivacyBudgetRecord => ({ ...r, charged: [...r.charged] });
  let record = initial === undefined ? undefined : copy(initial);
  return {
    get: async function getMemoryBudget() {
      return record === undefined ? undefined : copy(record);
    },
    set: async function setMemoryBudget(next) {
      record = copy(next);
    },
  };
}
