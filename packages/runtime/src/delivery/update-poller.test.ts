import { afterEach, describe, expect, it, vi } from 'vitest';
import { UpdatePoller } from './update-poller.js';

describe('UpdatePoller', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('waits min(interval × 2^failures, max) ± jitter, and resets after a success', async () => {
    vi.useFakeTimers();
    const outcomes = [false, false, false, false, false, false, true, false];
    const waits: number[] = [];
    let last = 0;
    const poller = new UpdatePoller({ intervalMs: 100, maxBackoffMs: 1_000, jitter: 0.2 }, async () => {
      waits.push(Date.now() - last);
      last = Date.now();
      if (!outcomes.shift()) throw new Error('offline');
    }, () => 1); // the largest jitter: +20%
    last = Date.now();
    poller.start();
    await vi.advanceTimersByTimeAsync(10_000);
    poller.stop();
    expect(waits.slice(0, 9)).toEqual([120, 240, 480, 960, 1_200, 1_200, 1_200, 120, 240]);
  });

  it('spreads waits over ± jitter so a fleet does not poll in lockstep', () => {
    const low = new UpdatePoller({ intervalMs: 1_000 }, async () => undefined, () => 0);
    const high = new UpdatePoller({ intervalMs: 1_000 }, async () => undefined, () => 1);
    expect([low.nextDelay(), high.nextDelay()]).toEqual([800, 1_200]);
  });
});
