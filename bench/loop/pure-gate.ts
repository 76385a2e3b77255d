/**
 * The gate without a server: `decide` from @edgeloop/telemetry over the simulator's own releases,
 * and devices bucketed by `bucketOf(salt, installId)` as the protocol does. The server runs the same
 * function on the same releases (bench/loop/server.ts checks they agree at every hour); this path
 * exists for unit tests of the simulator and for comparing policies quickly.
 */
import { bucketOf, thresholdOf } from '@edgeloop/protocol';
import { decide, floorHoldback, type GatePolicy, type ReferenceProfile } from '@edgeloop/telemetry';
import type { Fleet } from './fleet.js';
import type { Gatekeeper, HourInput, Outcome, StepState } from './rollout.js';

export function pureGate(options: { fleet: Fleet; policy: GatePolicy; profile: ReferenceProfile; salt: string }): Gatekeeper {
  const { fleet } = options;
  const buckets = new Uint16Array(fleet.size);
  for (let i = 0; i < fleet.size; i++) buckets[i] = bucketOf(options.salt, fleet.installIds[i]!);
  return {
    wantsArrivals: false,
    async assign(step: StepState) {
      const threshold = thresholdOf(step.percentage);
      const out = new Uint8Array(fleet.size);
      for (let i = 0; i < fleet.size; i++) out[i] = buckets[i]! < threshold ? 1 : 0;
      return out;
    },
    async hour(input: HourInput): Promise<{ outcome: Outcome; reason: string }> {
      const decision = decide({
        policy: options.policy,
        candidate: input.candidate,
        control: input.control,
        stepReports: { ...input.stepReports, withheld: floorHoldback(20, input) },
        step: input.step,
        now: input.close,
        profile: options.profile,
      });
      return { outcome: decision.outcome, reason: decision.reason };
    },
  };
}
