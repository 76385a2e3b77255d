/**
 * ε one device spends in a day: what the accountant gives under the default signed config, and what
 * a real runtime collector actually charged to its stored budget record over a simulated day of
 * use (inferences, failures, flushes at every turn, the period's end, and a day after).
 */
import {
  defaultTelemetryConfig,
  entryHealthEpsilon,
  HEALTH_FIELDS,
  maxReportEpsilon,
  reportEpsilon,
  type TelemetryConfig,
} from '@edgeloop/telemetry';
import { DEFAULT_EPSILON_PER_DAY } from '@edgeloop/runtime';
import { DECLARED, RAW_INPUT, telemetryPosts } from './device-attacks.js';
import type { World } from './floor-attacks.js';
import { startRuntimeDevice } from './runtime-device.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface AccountantFigures {
  /** ε of one report under the default config when every entry carries a summary (the most it spends). */
  reportEpsilon: number;
  /** Reports a device seals per UTC day under it at most (one per period; the device's own cap bounds the rest). */
  reportsPerDay: number;
  /** The bound on a day: min(device cap, reports per day × ε per report). */
  perDay: number;
  /** Per health field, drift and counters (per entry, before the 1/E split). */
  split: Record<string, number>;
  /** ε of a report with 1 … maxEntries entries, all with summaries: the 1/E split keeps it constant. */
  byEntries: number[];
}

/** The accountant on the default signed config. */
export function accountantFigures(config: TelemetryConfig = defaultTelemetryConfig()): AccountantFigures {
  const perReport = maxReportEpsilon(config);
  const reportsPerDay = Math.ceil(DAY / config.periodMs);
  const split: Record<string, number> = Object.fromEntries(HEALTH_FIELDS.map((f) => [f, config.health[f].epsilon]));
  split.health = entryHealthEpsilon(config) - Object.values(config.counters).reduce((a, c) => a + c.epsilon, 0);
  split.counters = Object.values(config.counters).reduce((a, c) => a + c.epsilon, 0);
  split.drift = config.drift.epsilon;
  return {
    reportEpsilon: perReport,
    reportsPerDay,
    perDay: Math.min(DEFAULT_EPSILON_PER_DAY, reportsPerDay * perReport),
    split,
    byEntries: Array.from({ length: config.maxEntries }, (_, e) => reportEpsilon(config, Array.from({ length: e + 1 }, () => ({ summary: true })))),
  };
}

export interface CollectorDay {
  /** The largest ε the collector's stored budget record shows spent on one UTC day. */
  maxSpentPerDay: number;
  /** ε the reports it sent declare, added up per UTC day of their period. */
  declaredPerDay: number;
  reports: number;
  /** What happened, for the bench's output. */
  notes: string[];
}

/**
 * A device on the attack server's clock uses the model through a day: inferences in the morning,
 * failures at noon, flushes after each, 20 flushes at the end of the day; then the period ends and it
 * flushes again (the report goes out), and it keeps using the model through the next day. The stored
 * budget record is read after every step.
 */
export async function collectorDay(world: World, source: number): Promise<CollectorDay> {
  const { server } = world;
  // Start early in a UTC day, so the day's one period and the next day's both show.
  server.clock.set((Math.floor(server.clock.now() / DAY) + 1) * DAY + 30 * 60_000);
  const device = await startRuntimeDevice(server, { source, declared: DECLARED, now: server.clock.now });
  const spentByDay = new Map<number, number>();
  const notes: string[] = [];
  const readBudget = async () => {
    const { budget } = await device.state();
    if (budget.day >= 0) spentByDay.set(budget.day, Math.max(spentByDay.get(budget.day) ?? 0, budget.spentMicros / 1e6));
  };
  try {
    const steps: Array<[number, () => Promise<void>]> = [
      [0, () => device.run(40, RAW_INPUT)],
      [6 * HOUR, () => device.run(10, RAW_INPUT, { fail: true })],
      [6 * HOUR, () => device.run(30, RAW_INPUT)],
      [11 * HOUR, async () => {
        for (let i = 0; i < 20; i++) await device.runtime.flush();
      }],
      [2 * HOUR, async () => {
        for (let i = 0; i < 5; i++) await device.runtime.flush();
      }],
      [6 * HOUR, () => device.run(25, RAW_INPUT)],
      [12 * HOUR, async () => {
        for (let i = 0; i < 5; i++) await device.runtime.flush();
      }],
    ];
    for (const [wait, step] of steps) {
      server.clock.advance(wait);
      await step();
      await device.runtime.flush();
      await readBudget();
    }
    const posts = telemetryPosts(device.sent);
    const declared = new Map<number, number>();
    for (const { report } of posts) {
      const day = Math.floor((report.period * HOUR) / DAY);
      declared.set(day, (declared.get(day) ?? 0) + report.epsilon);
    }
    notes.push(`${posts.length} report(s) sent over two simulated days, ε declared ${posts.map((p) => p.report.epsilon).join(', ')}; budget record ${[...spentByDay].map(([d, e]) => `day ${d}: ${e}`).join(', ')}`);
    return {
      maxSpentPerDay: Math.max(0, ...spentByDay.values()),
      declaredPerDay: Math.max(0, ...declared.values()),
      reports: posts.length,
      notes,
    };
  } finally {
    await device.dispose();
  }
}
