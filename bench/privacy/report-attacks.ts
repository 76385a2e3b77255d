/**
 * Attacks through the device API: filling a victim's cell key with made-up reports from one source
 * (Sybil), and reports whose privacy parameters are forged. The attacker writes valid schema-3
 * reports itself (the device code is public), so only what the server checks stands in its way.
 */
import { clippedLaplaceSlack, INFERENCES_CLIP, latencyRange, type TelemetryReport } from '@edgeloop/telemetry';
import { AttackLog, type AttackOutcome } from './attack-outcome.js';
import type { AttackServer } from './attack-server.js';
import { releasesOf } from './attacker-view.js';
import type { World } from './floor-attacks.js';
import { deterministicUuid, honestReport, postReports, sendHonest, type DeviceKey } from './honest-devices.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The attacker's one source address (device index space above the honest devices'). */
const ATTACKER_SOURCE = 200_000;

/**
 * A victim reports alone into a fresh cell key; the attacker, from one source address, sends
 * floor − 1 made-up reports into the same key — first all at once, then one at a time, waiting as
 * long as the server's Retry-After asks (for up to 7 days, while the victim's row is carried
 * forward). Succeeds if a release of that key holds fewer than `floor` honest reports: the attacker
 * subtracts its own and isolates the rest.
 */
export async function sybilFill(world: World, floor: number, firstDevice: number): Promise<{ outcome: AttackOutcome; nextDevice: number }> {
  const log = new AttackLog('Sybil fill from one source: floor − 1 forged reports next to one victim (per-source limit)');
  const { server, reader } = world;
  const key: DeviceKey = { version: '5.0.0', backend: 'webnn' };
  let device = firstDevice;
  server.clock.set((Math.floor(server.clock.now() / HOUR) + 1.1) * HOUR);
  await sendHonest(server, 90_006, key);
  const forged = (i: number): TelemetryReport => ({ ...honestReport(server, 300_000 + i, key), reportId: deterministicUuid(300_000 + i) });
  const admittedAt: number[] = [];
  // All at once, as one batch: the per-source limit admits a batch whole or not at all.
  const batch = await postReports(server, ATTACKER_SOURCE, Array.from({ length: floor - 1 }, (_, i) => forged(i)));
  if (batch.status === 202) for (let i = 0; i < floor - 1; i++) admittedAt.push(server.clock.now());
  log.note(`a batch of ${floor - 1} forged reports from one address: ${batch.status}`);
  // Then one at a time, patiently: as the server's Retry-After says, for as long as the victim waits.
  const deadline = server.clock.now() + 7 * DAY - 2 * HOUR;
  let refusals = 0;
  for (let i = admittedAt.length; i < floor - 1 && server.clock.now() < deadline; ) {
    const answer = await postReports(server, ATTACKER_SOURCE, forged(i));
    if (answer.status === 202) {
      admittedAt.push(server.clock.now());
      i++;
      continue;
    }
    if (answer.status !== 429) throw new Error(`a valid forged report was refused with ${answer.status}: ${answer.body}`);
    refusals += 1;
    server.clock.advance(Number(answer.headers['retry-after'] ?? 60) * 1000);
  }
  log.note(`${admittedAt.length} of ${floor - 1} forged reports admitted from one address, ${refusals} refusals (429), ${formatSpan(admittedAt)}`);
  // Let every hour involved close and be released.
  server.clock.advance(2 * HOUR);
  await server.runJobs();
  const releases = (await releasesOf(server, reader)).filter((r) => r.version === key.version && r.backend === key.backend && r.cohort === null);
  if (releases.length === 0) log.attempt(null);
  for (const release of releases) {
    const from = Date.parse(release.windowFrom);
    const to = Date.parse(release.windowTo);
    const forgedIn = admittedAt.filter((t) => t >= from && t < to).length;
    const honest = release.reports - forgedIn;
    log.attempt(honest > 0 && honest < floor ? `release [${release.windowFrom}, ${release.windowTo}) of ${key.version}/${key.backend}: ${release.reports} reports, ${forgedIn} of them forged by the attacker: ${honest} honest report(s) isolated` : null);
  }
  void device;
  return { outcome: log.outcome, nextDevice: device };
}

function formatSpan(times: readonly number[]): string {
  if (times.length === 0) return 'none';
  const span = (Math.max(...times) - Math.min(...times)) / 60_000;
  return `within ${span.toFixed(0)} minutes`;
}

/**
 * Reports whose privacy parameters or claims are forged, each posted alone from its own address;
 * every one must be refused (400). A forged report that is admitted is a success.
 */
export async function forgedParameters(server: AttackServer, firstDevice: number): Promise<{ outcome: AttackOutcome; nextDevice: number }> {
  const log = new AttackLog('forged clip, ε, config id and other declared parameters (admission)');
  let device = firstDevice;
  const config = server.config;
  const base = () => honestReport(server, device++, { version: '5.0.0', backend: 'wasm' });
  const entry = (r: TelemetryReport) => r.models[0]!;
  const p50Clip = 2 * latencyRange(config, 'vad', 'wasm', 'latencyP50').halfRange;
  const forgeries: Array<[string, (r: TelemetryReport) => unknown]> = [
    ['ε declared lower than the config gives', (r) => ({ ...r, epsilon: r.epsilon / 2 })],
    ['ε declared higher than the config gives', (r) => ({ ...r, epsilon: r.epsilon + 1 })],
    ['a config id the server never issued', (r) => ({ ...r, config: 'tc_0000000000000000' })],
    ['latency clipped to a wider range than the config (forged clip)', (r) => withHealth(r, { latencyP50: p50Clip + clippedLaplaceSlack(p50Clip, config.health.latencyP50.epsilon) + 1 })],
    ['inferences beyond what the noise can produce (forged clip)', (r) => withHealth(r, { inferences: INFERENCES_CLIP + clippedLaplaceSlack(INFERENCES_CLIP, config.health.inferences.epsilon) + 1 })],
    ['a randomized-response field that is not 0 or 1', (r) => withHealth(r, { errored: 5 })],
    ['an error kind in clear', (r) => withHealth(r, { errorKind: 'engine' })],
    ['an exact count next to the noised fields', (r) => ({ ...r, models: [{ ...entry(r), inferencesExact: 50 }] })],
    ['min and max latency', (r) => ({ ...r, models: [{ ...entry(r), latencyMs: { min: 1, max: 9 } }] })],
    ['a sentAt timestamp', (r) => ({ ...r, sentAt: new Date(server.clock.now()).toISOString() })],
    ['a counter the config does not list', (r) => ({ ...r, models: [{ ...entry(r), counters: { retries: 3 } }] })],
    ['a summary of a feature the profile does not have', (r) => ({ ...r, models: [{ ...entry(r), summary: { profile: server.profile.id, feature: 99, cell: 0 } }] })],
    ['a summary cell the feature does not have', (r) => ({ ...r, models: [{ ...entry(r), summary: { profile: server.profile.id, feature: 0, cell: 99 } }] })],
    ['a cohort of a rollout that does not exist', (r) => ({ ...r, models: [{ ...entry(r), cohort: { rollout: 'ro_000000000000', arm: 'candidate', step: 0 } }] })],
    ['a rollout step the rollout does not have', (r) => ({ ...r, models: [{ ...entry(r), cohort: { rollout: server.rollout, arm: 'candidate', step: 9 } }] })],
    ['a version that is not published', (r) => ({ ...r, models: [{ ...entry(r), version: '7.0.0' }] })],
    ['more entries than the config allows', (r) => ({ ...r, models: Array.from({ length: config.maxEntries + 1 }, (_, i) => ({ ...entry(r), backend: `b${i}` })) })],
    ['a period that has not ended', (r) => ({ ...r, period: Math.floor(server.clock.now() / HOUR) })],
    ['a period back-dated beyond what is admitted', (r) => ({ ...r, period: Math.floor((server.clock.now() - 10 * DAY) / HOUR) })],
    ['schema 2 with exact counts', (r) => ({ ...r, schema: 2 })],
  ];
  for (const [what, forge] of forgeries) {
    const report = base();
    const answer = await postReports(server, device, forge(report) as TelemetryReport);
    log.attempt(answer.status >= 200 && answer.status < 300 ? `${what}: admitted (${answer.status})` : null);
    if (answer.status !== 400) log.note(`${what}: answered ${answer.status}, not 400`);
  }
  return { outcome: log.outcome, nextDevice: device };
}

function withHealth(report: TelemetryReport, patch: Record<string, unknown>): unknown {
  const entry = report.models[0]!;
  return { ...report, models: [{ ...entry, health: { ...entry.health, ...patch } }] };
}
