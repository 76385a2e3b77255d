import { describe, expect, it } from 'vitest';
import { Jobs, type Timers } from './jobs.js';

/** Timers under the test's control: `tick(ms)` fires every timer due by then, in order. */
function fakeTimers() {
  let now = 0;
  const pending: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
  const timers: Timers = {
    set(fn, ms) {
      const timer = { at: now + ms, fn, cancelled: false };
      pending.push(timer);
      return () => (timer.cancelled = true);
    },
  };
  return {
    timers,
    now: () => now,
    get scheduled() {
      return pending.filter((t) => !t.cancelled && t.at > now).length;
    },
    async tick(ms: number) {
      const until = now + ms;
      for (;;) {
        const due = pending.filter((t) => !t.cancelled && t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        due.cancelled = true;
        now = due.at;
        due.fn();
        for (let i = 0; i < 10; i++) await Promise.resolve(); // let the run settle and reschedule
      }
      now = until;
    },
  };
}

describe('Jobs', () => {
  it('runs each job on its period once started, passes the clock’s time, and stops', async () => {
    const clock = fakeTimers();
    const seen: number[] = [];
    const jobs = new Jobs({ now: clock.now, timers: clock.timers }).add({ name: 'a', everyMs: 100, run: async (at) => seen.push(at.getTime()) });
    await clock.tick(250);
    expect(seen).toEqual([]); // not started: tests drive jobs by hand
    jobs.start();
    await clock.tick(350);
    expect(seen).toEqual([350, 450, 550]);
    await jobs.stop();
    expect(clock.scheduled).toBe(0);
    await clock.tick(1000);
    expect(seen).toHaveLength(3);
  });

  it('runs a job by name at the clock’s time and never overlaps two runs of one job', async () => {
    const clock = fakeTimers();
    let running = 0;
    let overlapped = false;
    let release: () => void = () => {};
    const jobs = new Jobs({ now: clock.now, timers: clock.timers }).add({
      name: 'slow',
      everyMs: 1000,
      run: async (at) => {
        overlapped ||= running > 0;
        running += 1;
        await new Promise<void>((resolve) => (release = resolve));
        running -= 1;
        return at.getTime();
      },
    });
    const first = jobs.run<number>('slow');
    const second = jobs.run<number>('slow');
    await Promise.resolve();
    release();
    expect(await first).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 0));
    release();
    expect(await second).toBe(0);
    expect(overlapped).toBe(false);
    await expect(jobs.run('nope')).rejects.toThrow(/no job "nope"; jobs: slow/);
  });

  it('logs a failed run and keeps the schedule', async () => {
    const clock = fakeTimers();
    const logged: string[] = [];
    let runs = 0;
    const jobs = new Jobs({ now: clock.now, timers: clock.timers, log: (m) => logged.push(m) }).add({
      name: 'flaky',
      everyMs: 10,
      run: async () => {
        runs += 1;
        if (runs === 1) throw new Error('boom');
      },
    });
    jobs.start();
    await clock.tick(30);
    expect(runs).toBe(3);
    expect(logged).toEqual(['job flaky failed']);
    await jobs.stop();
    expect(() => jobs.add({ name: 'flaky', everyMs: 1, run: async () => undefined })).toThrow(/registered twice/);
  });
});
