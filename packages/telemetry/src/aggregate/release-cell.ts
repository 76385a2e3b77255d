import { latencyRange, type TelemetryConfig } from '../config/telemetry-config.js';
import { TelemetryError } from '../errors.js';
import type { ReportEntry } from '../report/report.js';

/**
 * The server's mergeable aggregate of report entries for one cell key (app, model, version,
 * backend, cohort): what a window adds, what a release holds, what every view and the rollout gate
 * read. Everything is an integer (sums of squares as BigInt), grouped by the ε each report used, so
 * merging is associative, commutative and bit-identical in any order, and estimators can undo each
 * group's randomized response exactly.
 */

export const RR_FIELDS = ['errored', 'reverted', 'fellBack'] as const;
export type RrFieldName = (typeof RR_FIELDS)[number];
export const LAPLACE_FIELDS = ['latencyP50', 'latencyP95', 'inferences'] as const;
export type LaplaceFieldName = (typeof LAPLACE_FIELDS)[number];

/** ε in millionths: groups are keyed by it. */
type EpsMicros = number;

/** Sum of a noised integer field over reports; `noise` tallies reports per (ε, clip) so its variance is known. */
export interface SumStatJSON {
  n: number;
  sum: number;
  /** Σx² as a decimal string: exact whatever the count. */
  sumSq: string;
  noise: Array<[eps: EpsMicros, clip: number, reports: number]>;
}

export interface ReleaseCellJSON {
  reports: number;
  /** Binary randomized-response fields: per ε group, reports and how many said 1. */
  rr: Record<RrFieldName, Array<[eps: EpsMicros, reports: number, ones: number]>>;
  /** `errorKind` (k-ary randomized response): per ε group, counts per reported value. */
  errorKind: Array<[eps: EpsMicros, counts: number[]]>;
  /** Latency fields in absolute latency units (8·log₂ ms), and `inferences`. */
  laplace: Record<LaplaceFieldName, SumStatJSON>;
  counters: Record<string, SumStatJSON>;
  /** Per profile id, per feature: per ε group the reported (randomized) cell counts. */
  summaries: Record<string, Array<Array<[eps: EpsMicros, counts: number[]]>>>;
}

interface SumStat {
  n: number;
  sum: number;
  sumSq: bigint;
  noise: Map<string, number>;
}

export class ReleaseCell {
  #reports = 0;
  #rr = new Map<RrFieldName, Map<EpsMicros, [number, number]>>(RR_FIELDS.map((f) => [f, new Map()]));
  #errorKind = new Map<EpsMicros, number[]>();
  #laplace = new Map<LaplaceFieldName, SumStat>(LAPLACE_FIELDS.map((f) => [f, emptyStat()]));
  #counters = new Map<string, SumStat>();
  #summaries = new Map<string, Array<Map<EpsMicros, number[]>>>();

  get reports(): number {
    return this.#reports;
  }

  /**
   * Adds one admitted report entry made under `config` in a report of `entries` entries.
   * `profileCells` gives the cells per feature of the entry's summary profile (admission checked it).
   */
  add(entry: ReportEntry, config: TelemetryConfig, entries: number, profileCells?: readonly number[]): this {
    this.#reports += 1;
    const eps = (epsilon: number) => Math.round((epsilon / entries) * 1e6);
    for (const field of RR_FIELDS) {
      const groups = this.#rr.get(field)!;
      const key = eps(config.health[field].epsilon);
      const group = groups.get(key) ?? [0, 0];
      group[0] += 1;
      group[1] += entry.health[field];
      groups.set(key, group);
    }
    const kindKey = eps(config.health.errorKind.epsilon);
    let kinds = this.#errorKind.get(kindKey);
    if (kinds === undefined) this.#errorKind.set(kindKey, (kinds = []));
    while (kinds.length <= entry.health.errorKind) kinds.push(0);
    kinds[entry.health.errorKind]! += 1;
    for (const field of ['latencyP50', 'latencyP95'] as const) {
      const range = latencyRange(config, entry.model, entry.backend, field);
      addStat(this.#laplace.get(field)!, entry.health[field] + range.center - range.halfRange, eps(config.health[field].epsilon), 2 * range.halfRange);
    }
    addStat(this.#laplace.get('inferences')!, entry.health.inferences, eps(config.health.inferences.epsilon), 100);
    for (const [name, value] of Object.entries(entry.counters ?? {})) {
      const spec = config.counters[name];
      if (spec === undefined) continue;
      let stat = this.#counters.get(name);
      if (stat === undefined) this.#counters.set(name, (stat = emptyStat()));
      addStat(stat, value, eps(spec.epsilon), spec.clip);
    }
    if (entry.summary !== undefined && profileCells !== undefined) {
      let features = this.#summaries.get(entry.summary.profile);
      if (features === undefined) this.#summaries.set(entry.summary.profile, (features = profileCells.map(() => new Map())));
      const groups = features[entry.summary.feature];
      if (groups === undefined) throw new TelemetryError('profile_mismatch', `profile ${entry.summary.profile} has no feature ${entry.summary.feature}`);
      const key = eps(config.drift.epsilon);
      let counts = groups.get(key);
      if (counts === undefined) groups.set(key, (counts = new Array<number>(profileCells[entry.summary.feature]!).fill(0)));
      if (entry.summary.cell >= counts.length) throw new TelemetryError('profile_mismatch', `feature ${entry.summary.feature} has ${counts.length} cells`);
      counts[entry.summary.cell]! += 1;
    }
    return this;
  }

  /** Adds every report of `other` into this cell. */
  merge(other: ReleaseCell): this {
    this.#reports += other.#reports;
    for (const field of RR_FIELDS) {
      const mine = this.#rr.get(field)!;
      for (const [key, [n, ones]] of other.#rr.get(field)!) {
        const group = mine.get(key) ?? [0, 0];
        mine.set(key, [group[0] + n, group[1] + ones]);
      }
    }
    for (const [key, counts] of other.#errorKind) this.#errorKind.set(key, addArrays(this.#errorKind.get(key) ?? [], counts));
    for (const field of LAPLACE_FIELDS) mergeStat(this.#laplace.get(field)!, other.#laplace.get(field)!);
    for (const [name, stat] of other.#counters) {
      let mine = this.#counters.get(name);
      if (mine === undefined) this.#counters.set(name, (mine = emptyStat()));
      mergeStat(mine, stat);
    }
    for (const [profile, features] of other.#summaries) {
      let mine = this.#summaries.get(profile);
      if (mine === undefined) this.#summaries.set(profile, (mine = features.map(() => new Map())));
      if (mine.length !== features.length) throw new TelemetryError('incompatible_merge', `profile ${profile} has ${mine.length} features in one cell and ${features.length} in the other`);
      features.forEach((groups, f) => {
        for (const [key, counts] of groups) mine![f]!.set(key, addArrays(mine![f]!.get(key) ?? [], counts));
      });
    }
    return this;
  }

  /** Randomized-response groups of a binary field: [ε, reports, ones] with ε in natural units. */
  rrGroups(field: RrFieldName): Array<{ epsilon: number; n: number; ones: number }> {
    return sorted(this.#rr.get(field)!).map(([key, [n, ones]]) => ({ epsilon: key / 1e6, n, ones }));
  }

  errorKindGroups(): Array<{ epsilon: number; counts: number[] }> {
    return sorted(this.#errorKind).map(([key, counts]) => ({ epsilon: key / 1e6, counts: [...counts] }));
  }

  /** n, Σx, Σx² and the noise tally of a Laplace field or counter (undefined when no report carried it). */
  sumStat(field: LaplaceFieldName | `counter:${string}`): { n: number; sum: number; sumSq: bigint; noise: Array<{ epsilon: number; clip: number; n: number }> } | undefined {
    const stat = field.startsWith('counter:') ? this.#counters.get(field.slice(8)) : this.#laplace.get(field as LaplaceFieldName);
    if (stat === undefined) return undefined;
    return {
      n: stat.n,
      sum: stat.sum,
      sumSq: stat.sumSq,
      noise: [...stat.noise.entries()].sort().map(([k, n]) => {
        const [eps, clip] = k.split(':').map(Number) as [number, number];
        return { epsilon: eps / 1e6, clip, n };
      }),
    };
  }

  counterNames(): string[] {
    return [...this.#counters.keys()].sort();
  }

  /** Per feature of `profile`, the ε groups of randomized cell counts (empty when no summary used it). */
  summaryGroups(profile: string): Array<Array<{ epsilon: number; counts: number[] }>> {
    return (this.#summaries.get(profile) ?? []).map((groups) => sorted(groups).map(([key, counts]) => ({ epsilon: key / 1e6, counts: [...counts] })));
  }

  summaryProfiles(): string[] {
    return [...this.#summaries.keys()].sort();
  }

  toJSON(): ReleaseCellJSON {
    const rr = Object.fromEntries(RR_FIELDS.map((f) => [f, sorted(this.#rr.get(f)!).map(([k, [n, ones]]) => [k, n, ones])])) as ReleaseCellJSON['rr'];
    const laplace = Object.fromEntries(LAPLACE_FIELDS.map((f) => [f, statJSON(this.#laplace.get(f)!)])) as ReleaseCellJSON['laplace'];
    const counters = Object.fromEntries([...this.#counters.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, s]) => [n, statJSON(s)]));
    const summaries = Object.fromEntries(
      [...this.#summaries.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, features]) => [p, features.map((groups) => sorted(groups).map(([k, c]) => [k, [...c]] as [number, number[]]))]),
    );
    return { reports: this.#reports, rr, errorKind: sorted(this.#errorKind).map(([k, c]) => [k, [...c]]), laplace, counters, summaries };
  }

  /** Rebuilds a cell from stored JSON, checking every number (a corrupted row must fail loudly, not skew a view). */
  static fromJSON(json: ReleaseCellJSON): ReleaseCell {
    const bad = (why: string) => new TelemetryError('invalid_report', `invalid release cell: ${why}`);
    const cell = new ReleaseCell();
    if (!isCount(json?.reports)) throw bad('reports');
    cell.#reports = json.reports;
    for (const field of RR_FIELDS) {
      for (const g of json.rr?.[field] ?? []) {
        if (!Array.isArray(g) || !isCount(g[0]) || !isCount(g[1]) || !isCount(g[2]) || g[2] > g[1]) throw bad(`rr.${field}`);
        cell.#rr.get(field)!.set(g[0], [g[1], g[2]]);
      }
    }
    for (const g of json.errorKind ?? []) {
      if (!Array.isArray(g) || !isCount(g[0]) || !Array.isArray(g[1]) || !g[1].every(isCount)) throw bad('errorKind');
      cell.#errorKind.set(g[0], [...g[1]]);
    }
    for (const field of LAPLACE_FIELDS) cell.#laplace.set(field, statFromJSON(json.laplace?.[field], bad));
    for (const [name, stat] of Object.entries(json.counters ?? {})) cell.#counters.set(name, statFromJSON(stat, bad));
    for (const [profile, features] of Object.entries(json.summaries ?? {})) {
      if (!Array.isArray(features)) throw bad(`summaries.${profile}`);
      cell.#summaries.set(
        profile,
        features.map((groups) => {
          const map = new Map<EpsMicros, number[]>();
          for (const g of groups) {
            if (!Array.isArray(g) || !isCount(g[0]) || !Array.isArray(g[1]) || !g[1].every(isCount)) throw bad(`summaries.${profile}`);
            map.set(g[0], [...g[1]]);
          }
          return map;
        }),
      );
    }
    return cell;
  }
}

function emptyStat(): SumStat {
  return { n: 0, sum: 0, sumSq: 0n, noise: new Map() };
}

function addStat(stat: SumStat, value: number, eps: EpsMicros, clip: number): void {
  stat.n += 1;
  stat.sum += value;
  stat.sumSq += BigInt(value) * BigInt(value);
  const key = `${eps}:${clip}`;
  stat.noise.set(key, (stat.noise.get(key) ?? 0) + 1);
}

function mergeStat(target: SumStat, source: SumStat): void {
  target.n += source.n;
  target.sum += source.sum;
  target.sumSq += source.sumSq;
  for (const [k, n] of source.noise) target.noise.set(k, (target.noise.get(k) ?? 0) + n);
}

function statJSON(stat: SumStat): SumStatJSON {
  const noise = [...stat.noise.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => {
    const [eps, clip] = k.split(':').map(Number) as [number, number];
    return [eps, clip, n] as [number, number, number];
  });
  return { n: stat.n, sum: stat.sum, sumSq: stat.sumSq.toString(), noise };
}

function statFromJSON(json: SumStatJSON | undefined, bad: (why: string) => Error): SumStat {
  if (json === undefined) return emptyStat();
  if (!isCount(json.n) || !Number.isSafeInteger(json.sum) || typeof json.sumSq !== 'string' || !/^\d+$/.test(json.sumSq)) throw bad('sum statistic');
  const noise = new Map<string, number>();
  for (const g of json.noise ?? []) {
    if (!Array.isArray(g) || !isCount(g[0]) || !isCount(g[1]) || !isCount(g[2])) throw bad('noise tally');
    noise.set(`${g[0]}:${g[1]}`, g[2]);
  }
  return { n: json.n, sum: json.sum, sumSq: BigInt(json.sumSq), noise };
}

function sorted<V>(map: Map<number, V>): Array<[number, V]> {
  return [...map.entries()].sort((a, b) => a[0] - b[0]);
}

function addArrays(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(Math.max(a.length, b.length)).fill(0);
  a.forEach((x, i) => (out[i]! += x));
  b.forEach((x, i) => (out[i]! += x));
  return out;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}
