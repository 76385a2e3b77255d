/**
 * What the demo reads from the update server's admin API (scope `read`): the telemetry views, which
 * hold only released windows, and the rollout gate's decisions. Types cover the fields shown.
 */

export interface Interval {
  value: number;
  low: number;
  high: number;
}

export interface Cohort {
  rollout: string;
  arm: 'candidate' | 'control';
  step: number;
}

/** What every telemetry answer says about the floor (`notice` stands in for an empty answer, never a count). */
export interface FloorAnswer {
  minReports: number;
  demo?: true;
  notice?: string;
}

export interface Release {
  model: string;
  version: string;
  backend: string;
  cohort: Cohort | null;
  windowFrom: string;
  windowTo: string;
  reports: number;
}

export interface Health {
  model: string;
  version: string;
  backend: string;
  reports: number;
  errored: Interval;
  latencyP50Ms: Interval;
  latencyP95Ms: Interval;
  inferences: Interval;
}

export interface Rollout {
  id: string;
  model: string;
  fromVersion: string;
  toVersion: string;
  state: string;
  percentage: number;
  stepIndex: number;
  steps: unknown[];
  gate: object | null;
}

export interface Decision {
  windowEnd: string;
  stepIndex: number;
  outcome: 'promote' | 'hold' | 'pause' | 'rollback';
  rule: string;
  reason: string;
  applied: boolean;
}

export interface ServerViews {
  floor: FloorAnswer;
  releases: Release[];
  health: Health[];
  rollouts: Array<{ rollout: Rollout; decision: Decision | null }>;
}

/** Reads the views once; throws with the server's own message when a request fails. */
export async function readServerViews(serverUrl: string, token: string, app: string): Promise<ServerViews> {
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(new URL(`v1/admin/apps/${app}/${path}`, serverUrl), { headers: { Authorization: `Bearer ${token}` } });
    const body = (await response.json().catch(() => null)) as (T & { error?: { message?: string } }) | null;
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${body?.error?.message ?? ''}`.trim());
    return body as T;
  };
  const [releases, performance, rollouts] = await Promise.all([
    get<FloorAnswer & { releases: Release[] }>('telemetry/releases'),
    get<FloorAnswer & { versions: Health[] }>('telemetry/performance'),
    get<{ rollouts: Rollout[] }>('rollouts'),
  ]);
  // The newest few rollouts, each with the gate's latest decision.
  const recent = rollouts.rollouts.slice(0, 5);
  const decisions = await Promise.all(recent.map((r) => get<{ decisions: Decision[] }>(`rollouts/${encodeURIComponent(r.id)}/decisions?limit=1`)));
  return {
    floor: { minReports: releases.minReports, ...(releases.demo && { demo: true as const }), ...(releases.notice !== undefined && { notice: releases.notice }) },
    releases: releases.releases,
    health: performance.versions,
    rollouts: recent.map((rollout, i) => ({ rollout, decision: decisions[i]!.decisions[0] ?? null })),
  };
}
