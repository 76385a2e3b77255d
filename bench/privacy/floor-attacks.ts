/**
 * Attacks on the floor through the views, scripted against two real servers ("worlds") that get
 * byte-identical honest traffic; world A also gets a few victims' reports, each alone in its cell key
 * or in its hour. As long as a victim's report is below the floor, everything the attacker can ask
 * must answer the same in both worlds — otherwise differencing two ranges or two routes, polling, or
 * a listed backend or cohort told it something about that one device. Once a victim's report is
 * released with enough others, every answer must be a sum of whole releases: no two answers about
 * one group over nested ranges, and no two polls, may differ by fewer than `floor` reports.
 */
import { AttackLog, type AttackOutcome } from './attack-outcome.js';
import { startAttackServer, type AttackServer } from './attack-server.js';
import { differences, readerHeaders, snapshot, type Snapshot } from './attacker-view.js';
import { sendHonest, type DeviceKey } from './honest-devices.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export interface World {
  server: AttackServer;
  reader: Record<string, string>;
}

/** Cell keys of the scenario: three busy ones, and one per victim that nobody else reports into. */
const BUSY: readonly DeviceKey[] = [
  { version: '5.0.0', backend: 'wasm' },
  { version: '6.0.0', backend: 'wasm', arm: 'candidate' },
  { version: '5.0.0', backend: 'wasm', arm: 'control' },
];
const VICTIMS: ReadonlyArray<{ device: number; key: DeviceKey; why: string }> = [
  { device: 90_001, key: BUSY[0]!, why: 'alone in its hour of a busy cell key' },
  { device: 90_002, key: { version: '5.0.0', backend: 'webgpu' }, why: 'the only report on its backend' },
  { device: 90_003, key: { version: '6.0.0', backend: 'webgpu', arm: 'candidate' }, why: 'the only candidate on its backend' },
  { device: 90_004, key: { version: '6.0.0', backend: 'wasm', arm: 'control' }, why: 'the only report of its version in its cohort' },
];

export interface FloorAttacks {
  outcomes: AttackOutcome[];
  /** World A, still running, for the attacks that follow (the caller disposes it). */
  world: World;
  /** Device numbers used so far (honest devices of later attacks start above). */
  nextDevice: number;
}

/** Starts the servers on a floor of `floor` reports (below 20: loopback demos) and runs the view attacks. */
export async function floorAttacks(options: { floor: number; log?: (line: string) => void }): Promise<FloorAttacks> {
  const floor = options.floor;
  const started = Date.now();
  const progress = (what: string) => options.log?.(`  ${what} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  const telemetry = floor < 20 ? { minReports: floor, demo: true } : {};
  const start = (Math.floor(Date.now() / HOUR) + 0.5) * HOUR;
  const servers = await Promise.all([startAttackServer({ clock: start, telemetry }), startAttackServer({ clock: start, telemetry })]);
  const worlds: World[] = [];
  try {
    for (const server of servers) worlds.push({ server, reader: await readerHeaders(server) });
  } catch (error) {
    await Promise.all(servers.map((s) => s.dispose()));
    throw error;
  }
  const [A, B] = worlds as [World, World];
  const h0 = Math.floor(start / HOUR) * HOUR;
  const hours = [-1, 0, 1, 2, 3, 4].map((k) => h0 + k * HOUR);
  const time = new AttackLog('time-range differencing: [H-1,H) vs [H-1,H+1) and every other whole-hour range');
  const routes = new AttackLog('route differencing: per backend vs per cohort vs drift vs summary vs releases');
  const polling = new AttackLog('polling every view while reports arrive and windows close');
  const existence = new AttackLog('existence of a row below the floor: a backend, cohort or version listed, a count, another answer');
  try {
    const both = async (step: (w: World) => Promise<void>) => {
      for (const w of worlds) await step(w);
    };
    const advance = (ms: number) => both(async (w) => w.server.clock.advance(ms));
    const jobs = () => both((w) => w.server.runJobs());
    const wide = async (label: string, logs: AttackLog[]) => {
      const [sa, sb] = await Promise.all(worlds.map((w) => snapshot(w.server, w.reader, { hours, wide: true })));
      const diff = differences(sa!, sb!);
      for (const log of logs) {
        // Each attack is charged with the answers it would read: ranges for time, the rest for routes.
        const mine = log === time ? diff.filter((p) => p.includes('from=')) : log === routes ? diff.filter((p) => !p.includes('from=')) : diff;
        log.attempt(mine.length === 0 ? null : `${label}: ${mine.length} answers differ with and without the victims, e.g. ${mine.slice(0, 3).join(', ')}`);
      }
    };
    const poll = async (label: string) => {
      const [sa, sb] = await Promise.all(worlds.map((w) => snapshot(w.server, w.reader, { hours, wide: false })));
      const diff = differences(sa!, sb!);
      polling.attempt(diff.length === 0 ? null : `${label}: the polled views differ with and without the victims (${diff.slice(0, 3).join(', ')})`);
    };

    // Hour H0: the busy keys fill up in both worlds; at its close they are released.
    let device = 1;
    for (const key of BUSY) {
      for (let i = 0; i < floor; i++) {
        const n = device++;
        await both((w) => sendHonest(w.server, n, key));
      }
    }
    await advance(HOUR);
    await jobs();
    await poll('after the first releases');
    progress('busy keys released');

    // Hour H1: the victims report, in world A only, while the attacker polls.
    for (const victim of VICTIMS) {
      await sendHonest(A.server, victim.device, victim.key);
      await poll(`right after a victim ${victim.why} reported`);
    }
    await jobs();
    await wide('the victims’ hour, still open', [time, routes, existence]);
    progress('victims reported');
    await advance(HOUR);
    progress('advanced');
    await jobs();
    progress('jobs');
    await poll('after the victims’ hour closed');
    progress('polled');
    await wide('the victims’ hour closed, below the floor', [time, routes, existence]);
    await advance(DAY);
    await jobs();
    await poll('a day later');
    await wide('a day later, still carried forward', [time, routes, existence]);
    await advance(7 * DAY);
    await jobs();
    await wide('after 7 days, dropped unreleased', [existence]);
    progress('victims dropped after 7 days');

    // World B has served its purpose; in A a victim is now released with others, and every answer
    // must be a sum of whole releases.
    await B.server.dispose();
    worlds.pop();
    device = await releasedVictim(A, floor, device, { time, routes, polling });
    progress('a victim released with others');
    return { outcomes: [time.outcome, routes.outcome, polling.outcome, existence.outcome], world: A, nextDevice: device };
  } catch (error) {
    await Promise.all(worlds.map((w) => w.server.dispose()));
    throw error;
  }
}

/**
 * A victim reports alone in an hour of a busy key; in the next hour floor − 1 others do; the key is
 * released once the second hour closes. The attacker asks every view over every range and polls
 * while the others arrive: each answer about a group must change by whole releases only.
 */
async function releasedVictim(world: World, floor: number, firstDevice: number, logs: { time: AttackLog; routes: AttackLog; polling: AttackLog }): Promise<number> {
  const { server, reader } = world;
  const key = BUSY[0]!;
  let device = firstDevice;
  // Align to the middle of an hour.
  server.clock.set((Math.floor(server.clock.now() / HOUR) + 1.5) * HOUR);
  const h1 = Math.floor(server.clock.now() / HOUR) * HOUR;
  const hours = [-1, 0, 1, 2, 3].map((k) => h1 + k * HOUR);
  await sendHonest(server, 90_005, key);
  server.clock.advance(HOUR);
  await server.runJobs();
  let last = await snapshot(server, reader, { hours, wide: false });
  const pollStep = async (label: string) => {
    const next = await snapshot(server, reader, { hours, wide: false });
    logs.polling.attempt(changedByFewer(last, next, floor, label));
    last = next;
  };
  for (let i = 0; i < floor - 1; i++) {
    await sendHonest(server, device++, key);
    await pollStep(`poll after report ${i + 1} of the next hour`);
  }
  server.clock.advance(HOUR);
  await server.runJobs();
  await pollStep('poll after the release');
  const all = await snapshot(server, reader, { hours, wide: true });
  const nested = nestedDifferences(all, floor);
  logs.time.attempt(nested.length === 0 ? null : `after the release: ${nested.slice(0, 3).join('; ')}`);
  const crossRoute = routeTotals(all, floor);
  logs.routes.attempt(crossRoute);
  return device;
}

interface GroupAnswer {
  from: number;
  to: number;
  reports: number;
  body: string;
}

/** Per view and group (model, version, backend or cohort), its answers over every range asked. */
function groupsOf(snap: Snapshot): Map<string, GroupAnswer[]> {
  const groups = new Map<string, GroupAnswer[]>();
  for (const [path, answer] of snap) {
    const range = /from=([^&]+)&to=([^&]+)/.exec(path);
    const [view] = path.split('?');
    if (!range || /model=|version=/.test(path)) continue;
    const json = JSON.parse(answer.slice(answer.indexOf(' ') + 1)) as Record<string, unknown>;
    const list = (json.versions ?? json.cohorts ?? json.releases ?? []) as Array<Record<string, unknown>>;
    const from = Date.parse(range[1]!);
    const to = Date.parse(range[2]!);
    const seen = new Set<string>();
    for (const entry of list) {
      const id = `${path.includes('byCohort') ? 'drift-by-cohort' : view}|${JSON.stringify([entry.model, entry.version, entry.backend, entry.cohort, view === 'telemetry/releases' ? entry.windowFrom : null])}`;
      seen.add(id);
      const { span: _span, releasedAt: _at, id: _id, ...rest } = entry;
      (groups.get(id) ?? groups.set(id, []).get(id)!).push({ from, to, reports: Number(entry.reports), body: JSON.stringify(rest) });
    }
  }
  return groups;
}

/** Pairs of nested ranges whose answers about one group differ by 1 … floor − 1 reports, or differ with the same count. */
function nestedDifferences(snap: Snapshot, floor: number): string[] {
  const out: string[] = [];
  for (const [id, answers] of groupsOf(snap)) {
    for (const inner of answers) {
      for (const outer of answers) {
        if (outer === inner || !(outer.from <= inner.from && inner.to <= outer.to)) continue;
        const d = outer.reports - inner.reports;
        if ((d > 0 && d < floor) || (d === 0 && outer.body !== inner.body)) out.push(`${id}: [${iso(outer.from)}, ${iso(outer.to)}) minus [${iso(inner.from)}, ${iso(inner.to)}) = ${d} reports`);
      }
    }
  }
  return out;
}

/** Per version, the reports every route sums over the same ranges must agree; a difference below the floor isolates reports. */
function routeTotals(snap: Snapshot, floor: number): string | null {
  const totals = new Map<string, Map<string, number>>();
  for (const [id, answers] of groupsOf(snap)) {
    const [view, key] = id.split('|') as [string, string];
    const [model, version] = JSON.parse(key) as [string, string];
    for (const a of answers) {
      const k = `${model}@${version} [${iso(a.from)}, ${iso(a.to)})`;
      const byView = totals.get(k) ?? totals.set(k, new Map()).get(k)!;
      byView.set(view, (byView.get(view) ?? 0) + a.reports);
    }
  }
  for (const [k, byView] of totals) {
    const values = [...byView.values()];
    const spread = Math.max(...values) - Math.min(...values);
    if (spread > 0 && spread < floor) return `${k}: the routes' totals differ by ${spread} reports (${[...byView].map(([v, n]) => `${v} ${n}`).join(', ')})`;
  }
  return null;
}

/** Two polls of the default ranges: any group whose count moved by 1 … floor − 1, or whose numbers moved without its count. */
function changedByFewer(before: Snapshot, after: Snapshot, floor: number, label: string): string | null {
  const counts = (snap: Snapshot) => {
    const out = new Map<string, { reports: number; body: string }>();
    for (const [path, answer] of snap) {
      if (path.includes('from=')) continue;
      const json = JSON.parse(answer.slice(answer.indexOf(' ') + 1)) as Record<string, unknown>;
      const list = (json.versions ?? json.cohorts ?? json.models ?? json.releases ?? []) as Array<Record<string, unknown>>;
      for (const entry of list) {
        if (typeof entry.reports !== 'number') continue;
        const { span: _span, releasedAt: _at, id: _id, ...rest } = entry;
        out.set(`${path}|${JSON.stringify([entry.model, entry.version, entry.backend, entry.cohort, entry.windowFrom])}`, { reports: entry.reports, body: JSON.stringify(rest) });
      }
    }
    return out;
  };
  const a = counts(before);
  const b = counts(after);
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    const d = (b.get(key)?.reports ?? 0) - (a.get(key)?.reports ?? 0);
    if ((d !== 0 && Math.abs(d) < floor) || (d === 0 && a.get(key)?.body !== b.get(key)?.body)) return `${label}: ${key} moved by ${d} reports`;
  }
  return null;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16);
}
