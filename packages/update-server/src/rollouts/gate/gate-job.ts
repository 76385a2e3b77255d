import { decide, floorHoldback, ReleaseCell, type GateDecision, type GatePolicy } from '@edgeloop/telemetry';
import type { Database } from '../../db/database.js';
import { parseCohortKey } from '../../telemetry/cell-key.js';
import { readReleases } from '../../telemetry/releases/release-store.js';
import { GRACE_MS } from '../../telemetry/window-store.js';
import type { RolloutRow } from '../rollout-rows.js';
import type { RolloutService } from '../rollout-service.js';
import { sharedProfile } from './shared-profile.js';

const HOUR = 3_600_000;

/** What the gate did for one rollout at one closed window. */
export interface GateRun {
  app: string;
  rollout: string;
  windowEnd: Date;
  decision: GateDecision;
  applied: boolean;
}

/**
 * The rollout gate, run after telemetry windows close: for every running rollout with a gate, once
 * per closed window, compares the candidate arm with the control arm on the rollout's releases only
 * (`@edgeloop/telemetry`'s `decide`), stores the decision with its inputs and acts on it
 * (RolloutService.applyGate). Reads nothing but releases: what the gate sees is what any view sees.
 */
export async function evaluateGates(deps: { db: Database; rollouts: RolloutService; floor: number }, now: Date): Promise<GateRun[]> {
  // The last hour whose window is closed (its releases are made within a minute of closing).
  const windowEnd = new Date(Math.floor((now.getTime() - GRACE_MS) / HOUR) * HOUR);
  const running = await deps.db.query<RolloutRow>(
    `select r.* from rollouts r
     where r.state = 'running' and r.gate is not null and r.created_at < $1
       and not exists (select 1 from rollout_decisions d where d.rollout_id = r.id and d.window_end = $1)
     order by r.created_at`,
    [windowEnd],
  );
  const runs: GateRun[] = [];
  for (const row of running) {
    const decision = await decideFor(deps.db, row, windowEnd, deps.floor);
    const { applied, recorded } = await deps.rollouts.applyGate(row.app, row.id, Number(row.step_index), windowEnd, decision);
    if (recorded) runs.push({ app: row.app, rollout: row.id, windowEnd, decision, applied });
  }
  return runs;
}

/** The gate's decision for one rollout from its releases up to `windowEnd`. */
export async function decideFor(db: Database, row: RolloutRow, windowEnd: Date, floor: number): Promise<GateDecision> {
  const candidate = new Map<string, ReleaseCell>();
  const control = new Map<string, ReleaseCell>();
  const stepReports: { candidate: number; control: number; withheld?: { candidate: number; control: number } } = { candidate: 0, control: 0 };
  const stepIndex = Number(row.step_index);
  // A rollout's reports arrive after it was created: releases before that hour are other rollouts'.
  const from = new Date(Math.floor(row.created_at.getTime() / HOUR) * HOUR);
  for (const release of await readReleases(db, row.app, { model: row.model, from, to: windowEnd })) {
    const cohort = parseCohortKey(release.cohort);
    if (cohort === null || cohort.rollout !== row.id) continue;
    const arm = cohort.arm === 'candidate' ? candidate : control;
    arm.set(release.backend, (arm.get(release.backend) ?? new ReleaseCell()).merge(release.cell));
    if (cohort.step === stepIndex) stepReports[cohort.arm] += release.reports;
  }
  stepReports.withheld = floorHoldback(floor, { candidate, control });
  const profile = await sharedProfile(db, row.app, row.model, [row.from_version, row.to_version]);
  const startedAt = row.step_started_at.getTime();
  return decide({
    policy: row.gate as GatePolicy,
    candidate,
    control,
    stepReports,
    step: {
      index: stepIndex,
      percentage: Number(row.percentage),
      startedAt,
      closedWindows: Math.max(0, Math.floor((windowEnd.getTime() - startedAt) / HOUR)),
    },
    now: windowEnd.getTime(),
    profile,
  });
}
