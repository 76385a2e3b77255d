/**
 * The scripted attack suite of `npm run bench:privacy` (and e2e/privacy-attacks.test.ts): every
 * attack against real servers on loopback HTTP, honest devices sending real sealed reports, the
 * attacker using only the public device API and the admin API (a `read` token; `publish` for the
 * profile). Also measures what a real collector spends in a simulated day, on the same server.
 */
import type { AttackOutcome } from './attack-outcome.js';
import { deviceFlushes, rawInputProfile } from './device-attacks.js';
import { collectorDay, type CollectorDay } from './device-epsilon.js';
import { floorAttacks } from './floor-attacks.js';
import { forgedParameters, sybilFill } from './report-attacks.js';

export interface AttackSuite {
  outcomes: AttackOutcome[];
  collector: CollectorDay;
  floor: number;
  seconds: number;
}

/** Source addresses of the runtime devices (honest report devices use 1 … 100,000). */
const RUNTIME_SOURCES = 500_000;

export async function runAttackSuite(options: { floor: number; rawProfileDevices: number; log?: (line: string) => void }): Promise<AttackSuite> {
  const log = options.log ?? (() => {});
  const started = Date.now();
  const floor = await floorAttacks({ floor: options.floor, log });
  const { world } = floor;
  try {
    const outcomes = [...floor.outcomes];
    log(`view attacks done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    outcomes.push(await sybilFill(world, options.floor));
    const forged = await forgedParameters(world.server, floor.nextDevice);
    outcomes.push(forged.outcome);
    log(`report attacks done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    outcomes.push(await deviceFlushes(world, RUNTIME_SOURCES));
    outcomes.push(await rawInputProfile(world, RUNTIME_SOURCES + 1, options.rawProfileDevices));
    const collector = await collectorDay(world, RUNTIME_SOURCES + 100);
    log(`device attacks done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    return { outcomes, collector, floor: options.floor, seconds: (Date.now() - started) / 1000 };
  } finally {
    await world.server.dispose();
  }
}
