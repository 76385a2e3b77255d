/**
 * One simulated rollout over the fleet, hour by hour. Each device runs back-to-back 24-hour
 * accounting periods; a manifest with a new rollout step (or release) starts a new period on every
 * device of the rollout at its next poll, dropping the unfinished one, as the runtime does. A finished
 * period becomes one report that reaches the server at the device's next session (0–12 h later);
 * reports are released per cell once the cell holds the floor, and the gate looks at every closed
 * hour. Who assigns arms and who decides is a {@link Gatekeeper}: the pure decision function
 * (`decide` over the simulator's own releases), or the real update server (releases injected, or
 * real reports over HTTP through its ingest) — the same driver runs all three.
 */
import { ERROR_KINDS, latencyRange, ReleaseCell, seededRng, type ReferenceProfile, type ReleaseCellJSON, type Rng, type TelemetryConfig } from '@edgeloop/telemetry';
import { BACKENDS, FEATURES, MODEL, noiseEntry, normalSource, type Backend, type Effect, type Fleet, type NoisedEntry, type PeriodEntry } from './fleet.js';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** A device's next session, when its finished period's report is sent, is 0–12 h after the period ends. */
const MAX_REPORT_DELAY_HOURS = 12;
/**
 * The gate looks this long after an hour closes (the server's release grace is 2 min); a step it
 * promotes starts then, and devices poll hourly at a phase after it, so they see the new manifest
 * within the hour.
 */
export const GATE_LAG_MS = 3 * 60_000;

export type Outcome = 'promote' | 'hold' | 'pause' | 'rollback';

export interface StepState {
  index: number;
  percentage: number;
  startedAt: number;
  closedWindows: number;
}

/** One released cell: what a server would store as a release row. */
export interface Release {
  arm: 'candidate' | 'control';
  backend: Backend;
  step: number;
  version: 'A' | 'B';
  /** The first hour (ms) of the windows it spans; it ends at the hour that just closed. */
  windowFrom: number;
  cell: ReleaseCell;
}

/** A report that reached the server this hour: the device's period and its privatized values. */
export interface Arrival {
  entry: PeriodEntry;
  noised: NoisedEntry;
}

/** What the driver hands the gatekeeper at each closed hour. */
export interface HourInput {
  /** Start of the hour that just closed (simulated ms); it closes at `close`. */
  hour: number;
  close: number;
  step: StepState;
  /** Released cells per backend, merged over the rollout so far (what the pure gate reads). */
  candidate: Map<string, ReleaseCell>;
  control: Map<string, ReleaseCell>;
  /** Released reports of the current step per arm (sample-ratio check). */
  stepReports: { candidate: number; control: number };
  /** This hour's new releases (a server with injected releases stores these). */
  releases: Release[];
  /** Reports that arrived during the hour (only when the gatekeeper asks for them). */
  arrivals: Arrival[];
}

/** Assigns arms and decides: the pure gate, or a real server. */
export interface Gatekeeper {
  /** Whether `hour` needs the hour's reports (a server fed over HTTP). */
  readonly wantsArrivals: boolean;
  /** Devices on the candidate arm at this step (1) or the control (0), by the rollout's bucketing. */
  assign(step: StepState): Promise<Uint8Array>;
  /** The hour closes: the gate's decision for it. */
  hour(input: HourInput): Promise<{ outcome: Outcome; reason: string }>;
}

export interface RolloutResult {
  outcome: 'rolled_back' | 'paused' | 'completed' | 'timeout';
  /** Step index (0-based) at which it ended. */
  endStep: number;
  maxPercentage: number;
  /** Share of the fleet whose active release was ever the candidate. */
  exposedShare: number;
  /** Hours from the rollout's start to its end. */
  hours: number;
  reason: string;
  /** Every hourly decision: `hour:outcome` (the agreement check compares these across paths). */
  trail: string[];
  decisions: number;
  /** Wall time spent deciding (the gatekeeper's `hour`), ms. */
  gateMs: number;
  reports: number;
}

export interface RolloutOptions {
  fleet: Fleet;
  config: TelemetryConfig;
  profile: ReferenceProfile;
  steps: readonly number[];
  effect: Effect | null;
  seed: number;
  floor: number;
  gate: Gatekeeper;
  /** Hours before giving up (default 48 h per step + 2 days). */
  maxHours?: number;
}

const A = 0;
const B = 1;
const NONE = 0;
const CONTROL = 1;
const CANDIDATE = 2;
const MAX_STEPS = 8;

export async function simulateRollout(o: RolloutOptions): Promise<RolloutResult> {
  const { fleet, config, profile } = o;
  const rng: Rng = seededRng(o.seed);
  const normal = normalSource(rng);
  const n = fleet.size;
  const pollPhase = new Float64Array(n);
  const periodStart = new Float64Array(n);
  const version = new Uint8Array(n);
  const arm = new Uint8Array(n);
  const armStep = new Uint8Array(n);
  const reverted = new Uint8Array(n);
  const fellBack = new Uint8Array(n);
  const everCandidate = new Uint8Array(n);
  /** The device reverted the candidate and deny-lists it until the manifest offers another. */
  const denied = new Uint8Array(n);
  const maxHours = o.maxHours ?? 48 * o.steps.length + 48;
  const horizon = 24 + maxHours + 48;
  // Calendar of period ends: hour → devices (a device's stale entries are skipped by checking periodStart).
  const ends: number[][] = Array.from({ length: horizon }, () => []);
  const schedule = (i: number) => {
    const hour = Math.floor((periodStart[i]! + DAY) / HOUR);
    if (hour < horizon) ends[hour]!.push(i);
  };
  // Devices are mid-period when the rollout starts at hour 24; each polls hourly at its own phase.
  for (let i = 0; i < n; i++) {
    pollPhase[i] = GATE_LAG_MS + rng.next() * (HOUR - GATE_LAG_MS);
    periodStart[i] = DAY - rng.next() * DAY;
    schedule(i);
  }
  // Reports in flight, by arrival hour.
  const arrivals: PeriodEntry[][] = Array.from({ length: horizon + MAX_REPORT_DELAY_HOURS + 1 }, () => []);

  const start = DAY;
  const timeline: Array<{ at: number; step: number; percentage: number }> = [{ at: start, step: 0, percentage: o.steps[0]! }];
  let applied = -1;
  let step: StepState = { index: 0, percentage: o.steps[0]!, startedAt: start, closedWindows: 0 };
  let ended: { at: number; outcome: RolloutResult['outcome']; reason: string } | null = null;
  const groups = new Groups(config, profile, o.floor);
  const released = { candidate: new Map<string, ReleaseCell>(), control: new Map<string, ReleaseCell>() };
  const stepReports = Array.from({ length: MAX_STEPS }, () => ({ candidate: 0, control: 0 }));
  const noised: NoisedEntry = { errored: 0, errorKind: 0, latencyP50: 0, latencyP95: 0, reverted: 0, fellBack: 0, inferences: 0, feature: 0, cell: 0 };
  const trail: string[] = [];
  let gateMs = 0;
  let lastReason = '';
  let reports = 0;

  for (let hour = 24; hour < 24 + maxHours && ended === null; hour++) {
    const now = hour * HOUR;
    // 1. A new step: every device applies it at its poll during this hour, starting a new period.
    const latest = timeline[timeline.length - 1]!;
    if (applied !== latest.step && latest.at <= now + HOUR) {
      applied = latest.step;
      const onCandidate = await o.gate.assign({ ...step });
      for (let i = 0; i < n; i++) {
        const pollAt = now + pollPhase[i]!;
        const candidate = onCandidate[i] === 1;
        arm[i] = candidate ? CANDIDATE : CONTROL;
        armStep[i] = latest.step;
        if (candidate) everCandidate[i] = 1;
        periodStart[i] = pollAt;
        reverted[i] = 0;
        fellBack[i] = 0;
        const wanted = candidate && denied[i] === 0 ? B : A;
        if (wanted !== version[i]) {
          version[i] = wanted;
          if (wanted === B && o.effect?.crashLoop) {
            // Crashes its worker twice during the trial: back on A at the next start, reverted.
            version[i] = A;
            reverted[i] = 1;
            denied[i] = 1;
          }
          if (wanted === B && o.effect?.nanOnWebgpu && fleet.backend[i] === 1) fellBack[i] = 1;
        }
        schedule(i);
      }
    }
    // 2. Periods that end in this hour become reports, sent at the device's next session.
    for (const i of ends[hour]!) {
      const end = periodStart[i]! + DAY;
      if (Math.floor(end / HOUR) !== hour) continue; // restarted since it was scheduled
      arrivals[hour + Math.floor(rng.next() * (MAX_REPORT_DELAY_HOURS + 1))]!.push(periodEntry(i));
      periodStart[i] = end;
      reverted[i] = 0;
      fellBack[i] = 0;
      schedule(i);
    }
    ends[hour] = [];
    // 3. Reports arriving in this hour are admitted into their cells.
    const arrived: Arrival[] = [];
    for (const entry of arrivals[hour]!) {
      reports += 1;
      noiseEntry(fleet, entry, config, profile, rng, normal, noised);
      if (o.gate.wantsArrivals) arrived.push({ entry, noised: { ...noised } });
      if (entry.arm !== null) groups.add(entry, noised, now);
    }
    arrivals[hour] = [];
    // 4. The hour closes: cells holding the floor are released; smaller ones carry forward.
    const close = now + HOUR;
    const releases = groups.release();
    for (const r of releases) {
      const arms = released[r.arm];
      arms.set(r.backend, (arms.get(r.backend) ?? new ReleaseCell()).merge(r.cell));
      stepReports[r.step]![r.arm] += r.cell.reports;
    }
    // 5. The gate looks, just after the close.
    step.closedWindows = Math.max(0, Math.floor((close - step.startedAt) / HOUR));
    const t0 = performance.now();
    const decision = await o.gate.hour({
      hour: now,
      close,
      step: { ...step },
      candidate: released.candidate,
      control: released.control,
      stepReports: { ...stepReports[step.index]! },
      releases,
      arrivals: arrived,
    });
    gateMs += performance.now() - t0;
    trail.push(`${hour}:${decision.outcome}`);
    lastReason = decision.reason;
    if (decision.outcome === 'rollback') ended = { at: close, outcome: 'rolled_back', reason: decision.reason };
    else if (decision.outcome === 'pause') ended = { at: close, outcome: 'paused', reason: decision.reason };
    else if (decision.outcome === 'promote') {
      if (step.index + 1 >= o.steps.length) ended = { at: close, outcome: 'completed', reason: decision.reason };
      else {
        step = { index: step.index + 1, percentage: o.steps[step.index + 1]!, startedAt: close + GATE_LAG_MS, closedWindows: 0 };
        timeline.push({ at: close + GATE_LAG_MS, step: step.index, percentage: step.percentage });
      }
    }
  }
  let exposed = 0;
  for (let i = 0; i < n; i++) exposed += everCandidate[i]!;
  const endAt = ended?.at ?? (24 + maxHours) * HOUR;
  return {
    outcome: ended?.outcome ?? 'timeout',
    endStep: step.index,
    maxPercentage: Math.max(...timeline.map((t) => t.percentage)),
    exposedShare: exposed / n,
    hours: (endAt - start) / HOUR,
    reason: ended?.reason ?? lastReason,
    trail,
    decisions: trail.length,
    gateMs,
    reports,
  };

  /** The finished period of device i as the runtime reports it: its release, backend and latest assignment. */
  function periodEntry(i: number): PeriodEntry {
    const onB = version[i] === B;
    let backend: Backend = BACKENDS[fleet.backend[i]!]!;
    let effect: Effect | null = onB ? o.effect : null;
    if (onB && o.effect?.nanOnWebgpu && backend === 'webgpu') {
      // Golden checks failed on WebGPU: the release runs on WASM (about twice as slow here).
      backend = 'wasm';
      effect = { ...o.effect, latencyMultiplier: { wasm: 2 } };
    }
    return {
      device: i,
      version: onB ? 'B' : 'A',
      backend,
      arm: arm[i] === NONE ? null : arm[i] === CANDIDATE ? 'candidate' : 'control',
      step: armStep[i]!,
      effect,
      reverted: reverted[i] === 1,
      fellBack: fellBack[i] === 1,
      crashed: reverted[i] === 1,
      periodStart: periodStart[i]!,
    };
  }
}

/**
 * Per cell key (arm, backend, step, version), the sums a release cell holds, accumulated without
 * allocating per report; turned into a ReleaseCell (through its JSON form) when released. With one
 * entry per report every report of a cell used the same ε, so each field has one ε group.
 */
class Groups {
  readonly #config: TelemetryConfig;
  readonly #profile: ReferenceProfile;
  readonly #floor: number;
  /** Indexed by arm × backend × step × version (see {@link Groups.add}); filled on first use. */
  readonly #cells: Array<{ key: Omit<Release, 'cell' | 'windowFrom'>; acc: Accumulator; from: number } | undefined> = [];

  constructor(config: TelemetryConfig, profile: ReferenceProfile, floor: number) {
    this.#config = config;
    this.#profile = profile;
    this.#floor = floor;
  }

  /** Files one report into its cell's window of arrival hour `hour`. */
  add(entry: PeriodEntry, noised: NoisedEntry, hour: number): void {
    const k = (((entry.arm === 'candidate' ? 1 : 0) * BACKENDS.length + BACKENDS.indexOf(entry.backend)) * MAX_STEPS + entry.step) * 2 + (entry.version === 'B' ? 1 : 0);
    let cell = this.#cells[k];
    if (cell === undefined) {
      cell = { key: { arm: entry.arm!, backend: entry.backend, step: entry.step, version: entry.version }, acc: new Accumulator(this.#profile), from: hour };
      this.#cells[k] = cell;
    }
    if (cell.acc.reports === 0) cell.from = hour;
    cell.acc.add(noised);
  }

  /** Cells at or above the floor, as releases; they start empty again. */
  release(): Release[] {
    const out: Release[] = [];
    for (const cell of this.#cells) {
      if (cell === undefined || cell.acc.reports < this.#floor) continue;
      const { key, acc, from } = cell;
      out.push({ ...key, windowFrom: from, cell: ReleaseCell.fromJSON(acc.toJSON(this.#config, this.#profile, key.backend)) });
      acc.reset();
    }
    return out;
  }
}

class Accumulator {
  reports = 0;
  errored = 0;
  reverted = 0;
  fellBack = 0;
  errorKinds = new Float64Array(ERROR_KINDS.length);
  sums = new Float64Array(3);
  squares = new Float64Array(3);
  readonly summary: Float64Array[];

  constructor(profile: ReferenceProfile) {
    this.summary = profile.cellCounts().map((k) => new Float64Array(k));
  }

  add(e: NoisedEntry): void {
    this.reports += 1;
    this.errored += e.errored;
    this.reverted += e.reverted;
    this.fellBack += e.fellBack;
    this.errorKinds[e.errorKind]! += 1;
    this.sums[0]! += e.latencyP50;
    this.squares[0]! += e.latencyP50 * e.latencyP50;
    this.sums[1]! += e.latencyP95;
    this.squares[1]! += e.latencyP95 * e.latencyP95;
    this.sums[2]! += e.inferences;
    this.squares[2]! += e.inferences * e.inferences;
    this.summary[e.feature]![e.cell]! += 1;
  }

  reset(): void {
    this.reports = 0;
    this.errored = 0;
    this.reverted = 0;
    this.fellBack = 0;
    this.errorKinds.fill(0);
    this.sums.fill(0);
    this.squares.fill(0);
    for (const s of this.summary) s.fill(0);
  }

  /** The same JSON ReleaseCell.add would have built from these reports (latency in absolute units). */
  toJSON(config: TelemetryConfig, profile: ReferenceProfile, backend: string): ReleaseCellJSON {
    const eps = (e: number) => Math.round(e * 1e6);
    const h = config.health;
    const n = this.reports;
    const latency = (index: number, field: 'latencyP50' | 'latencyP95') => {
      const range = latencyRange(config, MODEL, backend, field);
      const low = range.center - range.halfRange;
      // Σ(x + low) and Σ(x + low)² from Σx and Σx².
      const sum = this.sums[index]! + n * low;
      const sumSq = this.squares[index]! + 2 * low * this.sums[index]! + n * low * low;
      return { n, sum, sumSq: BigInt(Math.round(sumSq)).toString(), noise: [[eps(h[field].epsilon), 2 * range.halfRange, n]] as Array<[number, number, number]> };
    };
    return {
      reports: n,
      rr: {
        errored: [[eps(h.errored.epsilon), n, this.errored]],
        reverted: [[eps(h.reverted.epsilon), n, this.reverted]],
        fellBack: [[eps(h.fellBack.epsilon), n, this.fellBack]],
      },
      errorKind: [[eps(h.errorKind.epsilon), Array.from(this.errorKinds)]],
      laplace: {
        latencyP50: latency(0, 'latencyP50'),
        latencyP95: latency(1, 'latencyP95'),
        inferences: { n, sum: this.sums[2]!, sumSq: BigInt(Math.round(this.squares[2]!)).toString(), noise: [[eps(h.inferences.epsilon), 100, n]] },
      },
      counters: {},
      summaries: { [profile.id]: this.summary.slice(0, FEATURES).map((counts) => [[eps(config.drift.epsilon), Array.from(counts)]] as Array<[number, number[]]>) },
    };
  }
}
