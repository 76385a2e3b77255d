/** The simulator's reference profile and a run of one scenario on the real server. */
import { ReferenceProfile, seededRng } from '@edgeloop/telemetry';
import { createFleet, FEATURES, normalQuantile, OUTPUT_FEATURES, type Fleet } from './fleet.js';
import { simulateRollout, type RolloutResult } from './rollout.js';
import { SCENARIOS, type ScenarioName } from './scenarios.js';
import type { LoopServer } from './server.js';

/** 16 features (14 inputs, 2 outputs), N(0, 1) in the reference, binned as the server bins samples. */
export function simulatorProfile(): ReferenceProfile {
  const values = Float64Array.from({ length: 20_000 }, (_, k) => normalQuantile((k + 0.5) / 20_000));
  return ReferenceProfile.fromSamples({
    id: 'vad@5.0.0/fleet-simulator',
    numeric: Array.from({ length: FEATURES }, (_, f) => ({ name: `f${f}`, role: OUTPUT_FEATURES.includes(f) ? 'output' : 'input', values })),
  });
}

const fleets = new Map<number, Fleet>();

/** The fleet of `size` devices (the same devices in every process: seeded by the size). */
export function fleetOf(size: number): Fleet {
  let fleet = fleets.get(size);
  if (fleet === undefined) fleets.set(size, (fleet = createFleet(size, seededRng(size))));
  return fleet;
}

export interface RunResult extends RolloutResult {
  scenario: ScenarioName;
  size: number;
  seed: number;
  via: 'releases' | 'http';
  /** Hours at which the server's decision differed from `decide` over the simulator's own releases. */
  mismatches: number;
  firstMismatch?: string;
  /** Median wall time of one gate job run (one decision), ms. */
  decisionMsMedian: number;
  wallMs: number;
}

/** One complete rollout of `scenario` over `size` devices, decided by the real server. */
export async function runScenario(server: LoopServer, task: { scenario: ScenarioName; size: number; seed: number; via: 'releases' | 'http' }): Promise<RunResult> {
  const t0 = performance.now();
  const fleet = fleetOf(task.size);
  const gate = await server.startRun(fleet, task.via);
  try {
    const result = await simulateRollout({
      fleet,
      config: server.config,
      profile: server.profile,
      steps: [1, 5, 25, 50, 100],
      effect: SCENARIOS[task.scenario].effect,
      seed: task.seed,
      floor: 20,
      gate,
    });
    const sorted = [...gate.decisionMs].sort((a, b) => a - b);
    return {
      ...result,
      ...task,
      mismatches: gate.agreement.mismatches,
      ...(gate.agreement.first !== undefined && { firstMismatch: gate.agreement.first }),
      decisionMsMedian: sorted[Math.floor(sorted.length / 2)] ?? 0,
      wallMs: performance.now() - t0,
    };
  } finally {
    await server.endRun(gate.rolloutId);
  }
}
