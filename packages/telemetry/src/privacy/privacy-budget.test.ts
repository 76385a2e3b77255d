import { describe, expect, it } from 'vitest';
import { memoryBudgetStore, PrivacyBudget, type PrivacyBudgetRecord } from './privacy-budget.js';

describe('PrivacyBudget', () => {
  it('grants one report per key and period, and stops at the period budget', async () => {
    let now = Date.UTC(2026, 0, 1, 10);
    const budget = new PrivacyBudget({ store: memoryBudgetStore(), epsilonPerPeriod: 10, now: () => now });
    expect(await budget.charge('vad@5/10:00', 4)).toEqual({ granted: true, spent: 4, remaining: 6 });
    expect(await budget.charge('vad@5/10:00', 4)).toMatchObject({ granted: false, reason: 'already_reported' });
    expect(await budget.charge('vad@5/11:00', 4)).toMatchObject({ granted: true, remaining: 2 });
    expect(await budget.charge('vad@5/12:00', 4)).toMatchObject({ granted: false, reason: 'exhausted', spent: 8 });
    now += 86_400_000; // next day: a fresh period
    expect(await budget.charge('vad@5/10:00', 4)).toMatchObject({ granted: true, spent: 4 });
  });

  it('survives a restart through its store and never overspends under concurrent charges', async () => {
    const store = memoryBudgetStore();
    const now = () => Date.UTC(2026, 0, 1);
    const first = new PrivacyBudget({ store, epsilonPerPeriod: 5, now });
    const decisions = await Promise.all(['a', 'b', 'c', 'd'].map((k) => first.charge(k, 2)));
    expect(decisions.filter((d) => d.granted)).toHaveLength(2);
    const second = new PrivacyBudget({ store, epsilonPerPeriod: 5, now });
    expect(await second.state()).toMatchObject({ spent: 4, remaining: 1 });
    expect(await second.charge('a', 1)).toMatchObject({ granted: false, reason: 'already_reported' });
  });

  it('sums ε exactly (0.1 ten times fits a budget of 1)', async () => {
    const budget = new PrivacyBudget({ store: memoryBudgetStore(), epsilonPerPeriod: 1, now: () => 0 });
    for (let i = 0; i < 10; i++) expect((await budget.charge(`k${i}`, 0.1)).granted).toBe(true);
    expect((await budget.charge('k10', 0.1)).granted).toBe(false);
  });

  it('fails loudly on storage errors and corrupted records', async () => {
    const broken = new PrivacyBudget({
      store: { get: async () => undefined, set: async () => Promise.reject(new Error('quota exceeded')) },
    });
    await expect(broken.charge('k', 1)).rejects.toThrow(/could not persist the privacy budget: quota exceeded/);
    const corrupt: PrivacyBudgetRecord = { periodStart: 0, spentMicros: -5, charged: [] };
    const budget = new PrivacyBudget({ store: memoryBudgetStore(corrupt), now: () => 1 });
    await expect(budget.charge('k', 1)).rejects.toThrow(/corrupted/);
    await expect(budget.charge('k', 0)).rejects.toThrow(/finite number > 0/);
    expect(() => new PrivacyBudget({ store: memoryBudgetStore(), epsilonPerPeriod: 0 })).toThrow(/epsilonPerPeriod/);
  });
});
