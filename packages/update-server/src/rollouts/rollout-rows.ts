import type { Condition, VariantRule } from '@edgeloop/protocol';
import type { GatePolicy } from '@edgeloop/telemetry';
import type { Channel, Rollout, RolloutState, Step } from './schemas.js';

export interface RolloutRow {
  id: string;
  app: string;
  model: string;
  channel: string;
  from_version: string;
  to_version: string;
  salt: string;
  steps: Step[];
  step_index: number;
  percentage: number;
  state: RolloutState;
  audience: Condition[] | null;
  /** The gate policy; null when the rollout has no gate (steps advance on their timer or by hand). */
  gate: GatePolicy | null;
  step_started_at: Date;
  created_at: Date;
  updated_at: Date;
}

export interface ChannelRow {
  model: string;
  name: string;
  version: string;
  rules: VariantRule[];
  pinned: boolean;
  updated_at: Date;
}

/** When the scheduler will advance a running rollout, or null when it waits for a person (or its gate decides). */
export function nextStepAt(row: RolloutRow): Date | null {
  const hold = row.steps[row.step_index]?.holdMinutes;
  if (row.state !== 'running' || hold === undefined || row.gate !== null) return null;
  return new Date(row.step_started_at.getTime() + hold * 60_000);
}

export function toRollout(row: RolloutRow): Rollout {
  const next = nextStepAt(row);
  return {
    id: row.id,
    app: row.app,
    model: row.model,
    channel: row.channel,
    fromVersion: row.from_version,
    toVersion: row.to_version,
    salt: row.salt,
    steps: row.steps,
    stepIndex: Number(row.step_index),
    percentage: Number(row.percentage),
    state: row.state,
    audience: row.audience,
    gate: row.gate === null ? null : { ...row.gate },
    stepStartedAt: row.step_started_at.toISOString(),
    nextStepAt: next ? next.toISOString() : null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toChannel(row: ChannelRow): Channel {
  return { model: row.model, name: row.name, version: row.version, rules: row.rules, pinned: row.pinned, updatedAt: row.updated_at.toISOString() };
}
