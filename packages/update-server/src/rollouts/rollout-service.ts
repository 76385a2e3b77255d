import { randomBytes } from 'node:crypto';
import { parseGatePolicy, TelemetryError, type GateDecision, type GatePolicy } from '@edgeloop/telemetry';
import { recordAudit } from '../audit/audit-log.js';
import type { Database, Sql } from '../db/database.js';
import { ServerError } from '../errors.js';
import { bumpManifest } from '../registry/changes.js';
import { nextStepAt, toChannel, toRollout, type ChannelRow, type RolloutRow } from './rollout-rows.js';
import type { Channel, Rollout, RolloutState, StartRollout } from './schemas.js';

/** One stored decision of the rollout gate, with everything it was based on. */
export interface GateDecisionRecord {
  rolloutId: string;
  /** The end of the closed telemetry window the decision was taken at. */
  windowEnd: string;
  stepIndex: number;
  outcome: GateDecision['outcome'];
  rule: GateDecision['rule'];
  /** In words, e.g. "rolled back: errors 38.7 % vs 30.2 % (+8.5 points, interval [...]), more than the tolerated +1.2 points". */
  reason: string;
  /** Whether the gate acted on it (false for a hold, or when a person changed the rollout first). */
  applied: boolean;
  decidedAt: string;
  comparisons: GateDecision['comparisons'];
  sampleRatio: GateDecision['sampleRatio'];
  reports: GateDecision['reports'];
}

interface DecisionRow {
  rollout_id: string;
  window_end: Date;
  step_index: number;
  outcome: GateDecision['outcome'];
  rule: GateDecision['rule'];
  reason: string;
  applied: boolean;
  inputs: Pick<GateDecision, 'comparisons' | 'sampleRatio' | 'reports'>;
  decided_at: Date;
}

function toDecision(row: DecisionRow): GateDecisionRecord {
  return {
    rolloutId: row.rollout_id,
    windowEnd: row.window_end.toISOString(),
    stepIndex: Number(row.step_index),
    outcome: row.outcome,
    rule: row.rule,
    reason: row.reason,
    applied: row.applied,
    decidedAt: row.decided_at.toISOString(),
    comparisons: row.inputs.comparisons,
    sampleRatio: row.inputs.sampleRatio,
    reports: row.inputs.reports,
  };
}

/** Who asked, for the audit log. */
export interface Actor {
  actor: string;
  requestId?: string | null;
}

export type RolloutAction = 'advance' | 'pause' | 'resume' | 'abort' | 'rollback';

/** Which states each action may start from; anything else is a 409 that names the state. */
const ALLOWED: Record<RolloutAction, readonly RolloutState[]> = {
  advance: ['running', 'paused'],
  pause: ['running'],
  resume: ['paused'],
  abort: ['running', 'paused'],
  rollback: ['running', 'paused', 'completed'],
};

/**
 * Channels and staged rollouts. Every change runs in one transaction that locks the rows it reads,
 * writes its audit entry and bumps the manifest, so concurrent operators and scheduler ticks on
 * several instances serialise instead of racing.
 */
export class RolloutService {
  readonly #db: Database;
  readonly #onChange: (app: string) => void;
  readonly #now: () => number;
  readonly #floor: () => number;
  readonly #outputFeatures: (sql: Sql, app: string, model: string, versions: [string, string]) => Promise<string[]>;

  /**
   * `now` is the server clock (step start times come from it, so the gate's hold and maximum
   * durations follow the same clock as telemetry windows); `floor` the telemetry floor a gate policy
   * may not go below; `outputFeatures` the output features of the reference profile both versions
   * share (the default gate compares them), none when they do not share one.
   */
  constructor(options: {
    db: Database;
    onChange: (app: string) => void;
    now?: () => number;
    floor?: () => number;
    outputFeatures?: (sql: Sql, app: string, model: string, versions: [string, string]) => Promise<string[]>;
  }) {
    this.#db = options.db;
    this.#onChange = options.onChange;
    this.#now = options.now ?? Date.now;
    this.#floor = options.floor ?? (() => 20);
    this.#outputFeatures = options.outputFeatures ?? (async () => []);
  }

  async listChannels(app: string): Promise<Channel[]> {
    return (await this.#db.query<ChannelRow>('select * from channels where app = $1 order by model, name', [app])).map(toChannel);
  }

  async setChannel(app: string, model: string, name: string, body: { version: string; rules?: Channel['rules'] | undefined }, who: Actor): Promise<Channel> {
    return this.#change(app, async (tx) => {
      await requireVersion(tx, app, model, body.version);
      const before = await channelRow(tx, app, model, name, false);
      if (before?.pinned) throw new ServerError('conflict', `channel "${name}" of ${model} is pinned to ${before.version}; unpin it first`);
      if (await activeRollout(tx, app, model, name)) {
        throw new ServerError('conflict', `channel "${name}" of ${model} has a rollout in progress; finish, abort or roll it back first`);
      }
      const [row] = await tx.query<ChannelRow>(
        `insert into channels (app, model, name, version, rules) values ($1, $2, $3, $4, $5)
         on conflict (app, model, name) do update set version = excluded.version, rules = coalesce($6, channels.rules), updated_at = now()
         returning *`,
        [app, model, name, body.version, JSON.stringify(body.rules ?? []), body.rules ? JSON.stringify(body.rules) : null],
      );
      const after = toChannel(row!);
      await recordAudit(tx, { app, ...who, action: 'channel.set', target: `${model}/${name}`, before: before && toChannel(before), after });
      return after;
    });
  }

  /** Kill switch: everyone on the channel gets `version` now, and any rollout on it ends as aborted. */
  async pin(app: string, model: string, name: string, version: string, who: Actor): Promise<Channel> {
    return this.#change(app, async (tx) => {
      await requireVersion(tx, app, model, version);
      const before = await channelRow(tx, app, model, name, true);
      const rollout = await activeRollout(tx, app, model, name);
      if (rollout) await this.#transition(tx, rollout, 'aborted', who, 'rollout.abort');
      const [row] = await tx.query<ChannelRow>(
        'update channels set version = $4, pinned = true, updated_at = now() where app = $1 and model = $2 and name = $3 returning *',
        [app, model, name, version],
      );
      const after = toChannel(row!);
      await recordAudit(tx, { app, ...who, action: 'channel.pin', target: `${model}/${name}`, before: toChannel(before!), after });
      return after;
    });
  }

  async unpin(app: string, model: string, name: string, who: Actor): Promise<Channel> {
    return this.#change(app, async (tx) => {
      const before = await channelRow(tx, app, model, name, true);
      const [row] = await tx.query<ChannelRow>(
        'update channels set pinned = false, updated_at = now() where app = $1 and model = $2 and name = $3 returning *',
        [app, model, name],
      );
      const after = toChannel(row!);
      await recordAudit(tx, { app, ...who, action: 'channel.unpin', target: `${model}/${name}`, before: toChannel(before!), after });
      return after;
    });
  }

  async start(app: string, body: StartRollout, who: Actor): Promise<Rollout> {
    return this.#change(app, async (tx) => {
      const fromVersion = (await channelRow(tx, app, body.model, body.channel, true))!.version;
      const gate = await this.#gatePolicy(tx, app, body, fromVersion);
      const channel = await channelRow(tx, app, body.model, body.channel, true);
      await requireVersion(tx, app, body.model, body.toVersion);
      if (channel!.pinned) throw new ServerError('conflict', `channel "${body.channel}" of ${body.model} is pinned to ${channel!.version}; unpin it first`);
      if (channel!.version === body.toVersion) throw new ServerError('conflict', `channel "${body.channel}" of ${body.model} already serves ${body.toVersion}`);
      const active = await activeRollout(tx, app, body.model, body.channel);
      if (active) throw new ServerError('conflict', `rollout ${active.id} is already in progress on ${body.model}/${body.channel}; finish, abort or roll it back first`);
      const id = `ro_${randomBytes(6).toString('hex')}`;
      const now = new Date(this.#now());
      const [row] = await tx.query<RolloutRow>(
        `insert into rollouts (id, app, model, channel, from_version, to_version, salt, steps, step_index, percentage, state, audience, gate, step_started_at, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, 'running', $10, $11, $12, $12, $12) returning *`,
        [
          id,
          app,
          body.model,
          body.channel,
          channel!.version,
          body.toVersion,
          // A fresh salt per rollout: the devices that got the last candidate first are not the first again.
          `${body.model}:${body.toVersion}:${randomBytes(8).toString('hex')}`,
          JSON.stringify(body.steps),
          body.steps[0]!.percentage,
          body.audience ? JSON.stringify(body.audience) : null,
          gate === null ? null : JSON.stringify(gate),
          now,
        ],
      );
      const after = toRollout(row!);
      await recordAudit(tx, { app, ...who, action: 'rollout.start', target: id, after });
      return after;
    });
  }

  async get(app: string, id: string): Promise<Rollout> {
    const [row] = await this.#db.query<RolloutRow>('select * from rollouts where app = $1 and id = $2', [app, id]);
    if (!row) throw new ServerError('not_found', `app "${app}" has no rollout "${id}"`);
    return toRollout(row);
  }

  async list(app: string): Promise<Rollout[]> {
    return (await this.#db.query<RolloutRow>('select * from rollouts where app = $1 order by created_at desc, id', [app])).map(toRollout);
  }

  async act(app: string, id: string, action: RolloutAction, who: Actor): Promise<Rollout> {
    return this.#change(app, async (tx) => {
      const [row] = await tx.query<RolloutRow>('select * from rollouts where app = $1 and id = $2 for update', [app, id]);
      if (!row) throw new ServerError('not_found', `app "${app}" has no rollout "${id}"`);
      if (!ALLOWED[action].includes(row.state)) {
        throw new ServerError('conflict', `rollout ${id} is ${row.state}; "${action}" needs it to be ${ALLOWED[action].join(' or ')}`, { state: row.state });
      }
      if (action === 'advance') return this.#advance(tx, row, who);
      const next: RolloutState = { pause: 'paused', resume: 'running', abort: 'aborted', rollback: 'rolled_back' }[action] as RolloutState;
      return this.#transition(tx, row, next, who, `rollout.${action}`);
    });
  }

  /**
   * The gate decided for rollout `id` at the close of `windowEnd`: stored with its inputs, and acted
   * on (promote = next step or completion, rollback, pause) only if the rollout is still running the
   * step it was evaluated on — a person's pause, advance, rollback or pin meanwhile wins and the
   * decision is kept as not applied. The manifest changes only when the gate acted. Safe from every
   * instance: one decision per rollout and window.
   */
  async applyGate(app: string, id: string, stepIndex: number, windowEnd: Date, decision: GateDecision): Promise<{ applied: boolean; recorded: boolean }> {
    let changed = false;
    const result = await this.#db.transaction(async (tx) => {
      const [row] = await tx.query<RolloutRow>('select * from rollouts where app = $1 and id = $2 for update', [app, id]);
      if (!row) throw new ServerError('not_found', `app "${app}" has no rollout "${id}"`);
      const [seen] = await tx.query('select 1 from rollout_decisions where rollout_id = $1 and window_end = $2', [id, windowEnd]);
      if (seen) return { applied: false, recorded: false };
      const current = row.state === 'running' && Number(row.step_index) === stepIndex && row.gate !== null;
      const gate: Actor = { actor: 'gate' };
      let applied = false;
      if (current && decision.outcome !== 'hold') {
        applied = true;
        if (decision.outcome === 'promote') await this.#advance(tx, row, gate);
        else if (decision.outcome === 'rollback') await this.#transition(tx, row, 'rolled_back', gate, 'rollout.rollback');
        else await this.#transition(tx, row, 'paused', gate, 'rollout.pause');
        await recordAudit(tx, { app, actor: 'gate', action: `rollout.gate.${decision.outcome}`, target: id, after: { windowEnd: windowEnd.toISOString(), rule: decision.rule, reason: decision.reason } });
        await bumpManifest(tx, app);
        changed = true;
      }
      await tx.query(
        `insert into rollout_decisions (app, rollout_id, window_end, step_index, outcome, rule, reason, applied, inputs, decided_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) on conflict do nothing`,
        [app, id, windowEnd, stepIndex, decision.outcome, decision.rule, decision.reason, applied, JSON.stringify({ comparisons: decision.comparisons, sampleRatio: decision.sampleRatio, reports: decision.reports }), new Date(this.#now())],
      );
      return { applied, recorded: true };
    });
    if (changed) this.#onChange(app);
    return result;
  }

  /** The gate's decisions on rollout `id`, newest first, each with its inputs. */
  async decisions(app: string, id: string, limit = 100): Promise<GateDecisionRecord[]> {
    await this.get(app, id); // 404 for an unknown rollout
    const rows = await this.#db.query<DecisionRow>(
      'select * from rollout_decisions where app = $1 and rollout_id = $2 order by window_end desc, id desc limit $3',
      [app, id, limit],
    );
    return rows.map(toDecision);
  }

  /** Validates a rollout's gate policy (400 naming the fix), or null for `gate: false`. */
  async #gatePolicy(tx: Sql, app: string, body: StartRollout, fromVersion: string): Promise<GatePolicy | null> {
    if (body.gate === false) return null;
    const outputFeatures = body.gate?.metrics === undefined ? await this.#outputFeatures(tx, app, body.model, [fromVersion, body.toVersion]) : [];
    try {
      return parseGatePolicy(body.gate ?? {}, { floor: this.#floor(), outputFeatures });
    } catch (error) {
      throw new ServerError('bad_request', TelemetryError.fromUnknown(error).message);
    }
  }

  /** Advances every running rollout whose hold time has passed; safe to call from every instance. */
  async tick(now = new Date()): Promise<number> {
    const due = await this.#db.query<RolloutRow>(`select * from rollouts where state = 'running'`);
    let advanced = 0;
    for (const candidate of due) {
      const at = nextStepAt(candidate);
      if (!at || at > now) continue;
      const done = await this.#change(candidate.app, async (tx) => {
        // Another instance may have advanced it meanwhile: re-check under the row lock.
        const [row] = await tx.query<RolloutRow>(`select * from rollouts where id = $1 and state = 'running' for update skip locked`, [candidate.id]);
        const rowAt = row && nextStepAt(row);
        if (!row || !rowAt || rowAt > now) return false;
        await this.#advance(tx, row, { actor: 'scheduler' });
        return true;
      });
      if (done) advanced++;
    }
    return advanced;
  }

  async #advance(tx: Sql, row: RolloutRow, who: Actor): Promise<Rollout> {
    const nextIndex = Number(row.step_index) + 1;
    if (nextIndex >= row.steps.length) return this.#transition(tx, row, 'completed', who, 'rollout.complete');
    const [updated] = await tx.query<RolloutRow>(
      `update rollouts set step_index = $2, percentage = $3, step_started_at = $4, updated_at = $4 where id = $1 returning *`,
      [row.id, nextIndex, row.steps[nextIndex]!.percentage, new Date(this.#now())],
    );
    const after = toRollout(updated!);
    await recordAudit(tx, { app: row.app, ...who, action: 'rollout.advance', target: row.id, before: toRollout(row), after });
    return after;
  }

  /** Ends or pauses a rollout; completing moves the channel to B, rolling back a completed one moves it to A. */
  async #transition(tx: Sql, row: RolloutRow, state: RolloutState, who: Actor, action: string): Promise<Rollout> {
    const percentage = state === 'completed' ? 100 : state === 'aborted' || state === 'rolled_back' ? 0 : Number(row.percentage);
    const [updated] = await tx.query<RolloutRow>(
      `update rollouts set state = $2, percentage = $3, updated_at = $4,
         step_started_at = case when $2 = 'running' then $4 else step_started_at end
       where id = $1 returning *`,
      [row.id, state, percentage, new Date(this.#now())],
    );
    if (state === 'completed' || (state === 'rolled_back' && row.state === 'completed')) {
      const version = state === 'completed' ? row.to_version : row.from_version;
      await tx.query('update channels set version = $4, updated_at = now() where app = $1 and model = $2 and name = $3', [row.app, row.model, row.channel, version]);
    }
    const after = toRollout(updated!);
    await recordAudit(tx, { app: row.app, ...who, action, target: row.id, before: toRollout(row), after });
    return after;
  }

  async #change<T>(app: string, fn: (tx: Sql) => Promise<T>): Promise<T> {
    const result = await this.#db.transaction(async (tx) => {
      const value = await fn(tx);
      await bumpManifest(tx, app);
      return value;
    });
    this.#onChange(app);
    return result;
  }
}

async function requireVersion(tx: Sql, app: string, model: string, version: string): Promise<void> {
  const rows = await tx.query('select 1 from model_versions where app = $1 and model = $2 and version = $3', [app, model, version]);
  if (rows.length === 0) throw new ServerError('not_found', `model "${app}/${model}" has no version "${version}"; publish it first`);
}

async function channelRow(tx: Sql, app: string, model: string, name: string, required: boolean): Promise<ChannelRow | null> {
  const [row] = await tx.query<ChannelRow>('select * from channels where app = $1 and model = $2 and name = $3 for update', [app, model, name]);
  if (!row && required) throw new ServerError('not_found', `model "${app}/${model}" has no channel "${name}"; set it with PUT .../channels/${name}`);
  return row ?? null;
}

async function activeRollout(tx: Sql, app: string, model: string, channel: string): Promise<RolloutRow | null> {
  const [row] = await tx.query<RolloutRow>(
    `select * from rollouts where app = $1 and model = $2 and channel = $3 and state in ('running', 'paused') for update`,
    [app, model, channel],
  );
  return row ?? null;
}
