import { TelemetryError } from '../errors.js';

/**
 * The device's own daily cap, enforced whatever the server's config says: the ε of every report
 * about periods that start on one UTC day adds up to at most `epsilonPerDay`, so a server that
 * shortens the period cannot get more than a day's worth out of a device. The record is one small
 * JSON value that the runtime stores next to its report queue and updates in the same storage
 * transaction as the sealing it pays for, so tabs, workers and processes cannot double-spend it.
 *
 * Monotonic against clock changes: periods are sealed in order and the record keeps where the last
 * sealed one ended; a period starting before that is never sealed again, so moving the clock back
 * (or forward and back) grants nothing.
 */
export interface DeviceBudgetRecord {
  /** UTC day (ms since epoch / 86,400,000, floored) of the start of the last period charged. */
  day: number;
  /** ε spent on periods starting on `day`, in millionths so that sums stay exact integers. */
  spentMicros: number;
  /**
   * End (ms since epoch) of the last period sealed: a period starting before it is never sealed,
   * also under a config with another period length.
   */
  sealedUntil: number;
}

export type BudgetCharge =
  | { granted: true; record: DeviceBudgetRecord; spent: number; remaining: number }
  | { granted: false; reason: 'already_sealed' | 'not_ended' | 'exhausted'; record: DeviceBudgetRecord; spent: number; remaining: number };

const DAY_MS = 86_400_000;
const MICROS = 1_000_000;

/** A fresh record: nothing spent, nothing sealed. */
export function emptyBudgetRecord(): DeviceBudgetRecord {
  return { day: -1, spentMicros: 0, sealedUntil: 0 };
}

/**
 * Decides whether sealing the period that started at `start` (ms since epoch) and lasts `periodMs`
 * may spend `epsilon` at time `now`, and returns the record to store if so. Pure: the caller
 * persists `record` atomically with the report.
 */
export function chargeBudget(
  stored: DeviceBudgetRecord | undefined,
  request: { now: number; start: number; periodMs: number; epsilon: number; epsilonPerDay: number },
): BudgetCharge {
  const { now, start, periodMs, epsilon, epsilonPerDay } = request;
  if (!(epsilon >= 0) || !Number.isFinite(epsilon)) throw new TelemetryError('invalid_argument', `epsilon must be a finite number ≥ 0, got ${epsilon}`);
  if (!(epsilonPerDay > 0) || !Number.isFinite(epsilonPerDay)) throw new TelemetryError('invalid_argument', `epsilonPerDay must be a finite number > 0, got ${epsilonPerDay}`);
  const record = stored === undefined ? emptyBudgetRecord() : checkRecord(stored);
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(periodMs) || periodMs <= 0) {
    throw new TelemetryError('invalid_argument', `start and periodMs must be integers ≥ 0 and > 0, got ${start} and ${periodMs}`);
  }
  const day = Math.floor(start / DAY_MS);
  const limit = Math.floor(epsilonPerDay * MICROS);
  const spentToday = day === record.day ? record.spentMicros : 0;
  const answer = (reason: 'already_sealed' | 'not_ended' | 'exhausted'): BudgetCharge => ({
    granted: false,
    reason,
    record,
    spent: spentToday / MICROS,
    remaining: Math.max(0, limit - spentToday) / MICROS,
  });
  if (start < record.sealedUntil) return answer('already_sealed');
  if (start + periodMs > now) return answer('not_ended');
  const micros = Math.ceil(epsilon * MICROS - 1e-6);
  if (spentToday + micros > limit) return answer('exhausted');
  const next: DeviceBudgetRecord = { day, spentMicros: spentToday + micros, sealedUntil: start + periodMs };
  return { granted: true, record: next, spent: next.spentMicros / MICROS, remaining: Math.max(0, limit - next.spentMicros) / MICROS };
}

function checkRecord(record: DeviceBudgetRecord): DeviceBudgetRecord {
  const ok =
    Number.isSafeInteger(record.day) &&
    Number.isSafeInteger(record.spentMicros) &&
    record.spentMicros >= 0 &&
    Number.isSafeInteger(record.sealedUntil);
  // A corrupted record must not silently reset the budget to zero.
  if (!ok) throw new TelemetryError('budget', 'the stored privacy budget record is corrupted; clear telemetry storage only if the device may start afresh');
  return record;
}
