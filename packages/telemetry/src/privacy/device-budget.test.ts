import { describe, expect, it } from 'vitest';
import { chargeBudget, emptyBudgetRecord, type DeviceBudgetRecord } from './device-budget.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('chargeBudget', () => {
  it('seals each ended period once, in order, and stops at the daily cap', () => {
    let record: DeviceBudgetRecord | undefined;
    const charge = (period: number, periodMs: number, now: number, epsilon = 3) => {
      const result = chargeBudget(record, { now, start: period * periodMs, periodMs, epsilon, epsilonPerDay: 8 });
      if (result.granted) record = result.record;
      return result;
    };
    const day = 20_000;
    expect(charge(day, DAY, (day + 1) * DAY + 5).granted).toBe(true);
    expect(charge(day, DAY, (day + 1) * DAY + 6)).toMatchObject({ granted: false, reason: 'already_sealed' });
    // The current period has not ended.
    expect(charge(day + 1, DAY, (day + 1) * DAY + 7)).toMatchObject({ granted: false, reason: 'not_ended' });
    // A server that shortens the period gets no more than the day's cap out of the device.
    const hourly = (h: number) => charge((day + 2) * 24 + h, HOUR, (day + 3) * DAY);
    expect(hourly(0).granted).toBe(true);
    expect(hourly(1).granted).toBe(true);
    expect(hourly(2)).toMatchObject({ granted: false, reason: 'exhausted', spent: 6, remaining: 2 });
  });

  it('lets a period start at any time (periods restart when a release changes), never overlapping a sealed one', () => {
    const first = chargeBudget(undefined, { now: 30 * HOUR, start: 5 * HOUR, periodMs: DAY, epsilon: 8, epsilonPerDay: 8 });
    expect(first.granted).toBe(true);
    const record = (first as { record: DeviceBudgetRecord }).record;
    expect(chargeBudget(record, { now: 60 * HOUR, start: 28 * HOUR, periodMs: DAY, epsilon: 8, epsilonPerDay: 8 })).toMatchObject({ granted: false, reason: 'already_sealed' });
    expect(chargeBudget(record, { now: 60 * HOUR, start: 29 * HOUR, periodMs: DAY, epsilon: 8, epsilonPerDay: 8 }).granted).toBe(true);
  });

  it('grants nothing when the clock moves back, nor after it moves forward and back', () => {
    const day = 20_000;
    const first = chargeBudget(undefined, { now: (day + 1) * DAY, start: day * DAY, periodMs: DAY, epsilon: 8, epsilonPerDay: 8 });
    expect(first.granted).toBe(true);
    const record = (first as { record: DeviceBudgetRecord }).record;
    // Clock set back two days: the periods it now sees as ended were sealed already or are older.
    for (const period of [day - 2, day - 1, day]) {
      expect(chargeBudget(record, { now: (day - 1) * DAY, start: period * DAY, periodMs: DAY, epsilon: 8, epsilonPerDay: 8 })).toMatchObject({ granted: false, reason: 'already_sealed' });
    }
    // Forward 30 days: one period is sealed; back to the real date: nothing before it is sealed again.
    const future = chargeBudget(record, { now: (day + 31) * DAY, start: (day + 30) * DAY, periodMs: DAY, epsilon: 8, epsilonPerDay: 8 });
    expect(future.granted).toBe(true);
    const after = (future as { record: DeviceBudgetRecord }).record;
    expect(chargeBudget(after, { now: (day + 2) * DAY, start: (day + 1) * DAY, periodMs: DAY, epsilon: 8, epsilonPerDay: 8 })).toMatchObject({ granted: false, reason: 'already_sealed' });
  });

  it('keeps ε sums exact and refuses a corrupted record', () => {
    let record = emptyBudgetRecord();
    for (let i = 0; i < 10; i++) {
      const result = chargeBudget(record, { now: 10 * HOUR, start: i * 60_000, periodMs: 60_000, epsilon: 0.1, epsilonPerDay: 1 });
      expect(result.granted).toBe(true);
      record = result.record;
    }
    expect(chargeBudget(record, { now: 10 * HOUR, start: 11 * 60_000, periodMs: 60_000, epsilon: 0.1, epsilonPerDay: 1 }).granted).toBe(false);
    expect(() => chargeBudget({ day: 1, spentMicros: -5, sealedUntil: 0 }, { now: 1e12, start: DAY, periodMs: DAY, epsilon: 1, epsilonPerDay: 8 })).toThrow(/corrupted/);
    expect(() => chargeBudget(undefined, { now: 1e12, start: DAY, periodMs: DAY, epsilon: Number.NaN, epsilonPerDay: 8 })).toThrow(/finite number ≥ 0/);
  });
});
