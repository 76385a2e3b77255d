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
 * A victim reports alone into a fresh cell key; the attacker, from one source address, fills the
 * key with made-up reports that declare the victim's period (back-dated into it, as the audit's
 * attack did) until `floor` would be reached. Two attempts, each judged on the releases the server
 * made when it ended:
 * - burst: everything within the victim's hour, as fast as the server admits it (a batch, then one
 *   report at a time until refused); the hour then closes;
 * - patient: the rest one at a time, waiting as long as the server's Retry-After asks, while the
 *   victim's row is carried forward (up to 7 days).
 * An attempt succeeds if a release of that key holds fewer than `floor` honest reports: the attacker
 * subtracts its own and isolates the rest (one noised device-day report).
 */
export async function sybilFill(world: World, floor: number): Promise<AttackOutcome> {
  const log = new AttackLog('Sybil fill from one source: floor − 1 made-up reports back-dated into a victim\'s period (per-source limit)');
  const { server, reader } = world;
  const key: DeviceKey = { version: '5.0.0', backend: 'webnn' };
  server.clock.set((Math.floor(server.clock.now() / HOUR) + 1.1) * HOUR);
  const victimHour = Math.floor(server.clock.now() / HOUR) * HOUR;
  await sendHonest(server, 90_006, key);
  const victimPeriod = honestReport(server, 90_006, key).period;
  const forged = (i: number): TelemetryReport => ({ ...honestReport(server, 300_000 + i, key), period: victimPeriod, reportId: deterministicUuid(300_000 + i) });
  const admittedAt: number[] = [];
  const wanted = floor - 1;
  let refusals = 0;
  /** Sends forged report `admittedAt.length`; true if admitted, false on 429 (with the wait it asked for). */
  const sendOne = async (): Promise<{ admitted: true } | { admitted: false; waitMs: number }> => {
    const answer = await postReports(server, ATTACKER_SOURCE, forged(admittedAt.length));
    if (answer.status === 202) {
      admittedAt.push(server.clock.now());
      return { admitted: true };
    }
    if (answer.status !== 429) throw new Error(`a valid forged report was refused with ${answer.status}: ${answer.body}`);
    refusals += 1;
    return { admitted: false, waitMs: Number(answer.headers['retry-after'] ?? 60) * 1000 };
  };
  const judge = async (attempt: string) => {
    await server.runJobs();
    const releases = (await releasesOf(server, reader)).filter((r) => r.version === key.version && r.backend === key.backend && r.cohort === null);
    const leaks = releases.flatMap((release) => {
      const forgedIn = admittedAt.filter((t) => t >= Date.parse(release.windowFrom) && t < Date.parse(release.windowTo)).length;
      const honest = release.reports - forgedIn;
      return honest > 0 && honest < floor ? [`${attempt}: release [${release.windowFrom}, ${release.windowTo}) of ${key.version}/${key.backend} holds ${release.reports} reports, ${forgedIn} forged: ${honest} honest report(s) isolated`] : [];
    });
    log.attempt(leaks.length === 0 ? null : leaks.join('; '));
    log.note(`${attempt}: ${admittedAt.length} of ${wanted} forged reports admitted from one address, ${refusals} refused (429), ${formatSpan(admittedAt)}; ${releases.length} release(s) of the key`);
  };

  // Burst: a batch (the per-source limit admits a batch whole or not at all), then one at a time until refused, all in the victim's hour.
  if (wanted > 0) {
    const batch = await postReports(server, ATTACKER_SOURCE, Array.from({ length: wanted }, (_, i) => forged(i)));
    if (batch.status === 202) for (let i = 0; i < wanted; i++) admittedAt.push(server.clock.now());
    else refusals += 1;
  }
  while (admittedAt.length < wanted && (await sendOne()).admitted);
  server.clock.set(victimHour + HOUR + 5 * 60_000);
  await judge('burst within the victim\'s hour');

  // Patient: as the server's Retry-After says, for as long as the victim's row waits.
  const deadline = victimHour + 7 * DAY - 2 * HOUR;
  while (admittedAt.length < wanted && server.clock.now() < deadline) {
    const sent = await sendOne();
    if (!sent.admitted) server.clock.advance(sent.waitMs);
  }
  // Let every hour involved close.
  server.clock.advance(2 * HOUR);
  await judge('patient, following Retry-After');
  return log.outcome;
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
