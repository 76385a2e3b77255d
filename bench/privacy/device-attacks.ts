/**
 * Attacks that need a real device: one device trying to clear the floor alone by flushing over and
 * over (and its reports replayed), and a server whose signed profile names a raw input element
 * (`x[300]`) that the app never declared. Devices run the real runtime in Node (runtime-device.ts)
 * on the attack server's clock.
 */
import type { ReportableFeature } from '@edgeloop/runtime';
import { parseReport, type TelemetryReport } from '@edgeloop/telemetry';
import { AttackLog, type AttackOutcome } from './attack-outcome.js';
import { PROFILE_FEATURES } from './attack-server.js';
import type { World } from './floor-attacks.js';
import { loopbackRequest, sourceAddress } from './loopback-http.js';
import { startRuntimeDevice, type CapturedRequest } from './runtime-device.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const DECLARED: readonly ReportableFeature[] = PROFILE_FEATURES.declared.map((name) => ({ name, range: [-1, 1] as [number, number] }));
/** A raw input whose element 300 stands out; everything else is small. */
export const RAW_INPUT = Float32Array.from({ length: 512 }, (_, i) => (i === 300 ? 0.987654 : Math.sin(i) / 4));

/** Reports in telemetry POSTs a device made, with whether the server admitted each. */
export function telemetryPosts(sent: readonly CapturedRequest[]): Array<{ report: TelemetryReport; accepted: boolean; status: number }> {
  const out: Array<{ report: TelemetryReport; accepted: boolean; status: number }> = [];
  for (const request of sent.filter((r) => r.method === 'POST' && r.url.endsWith('/telemetry'))) {
    const bodies = JSON.parse(request.body) as unknown;
    const list = Array.isArray(bodies) ? bodies : [bodies];
    const answer = request.status === 202 ? (JSON.parse(request.answer) as { accepted?: boolean; results?: Array<{ accepted: boolean }> }) : {};
    list.forEach((value, i) => out.push({ report: parseReport(value), accepted: (answer.results?.[i]?.accepted ?? answer.accepted) === true, status: request.status }));
  }
  return out;
}

/**
 * One device records a period, flushes 20 times during it and 20 times after it ended; then the
 * attacker replays each report it sent 20 times from the device's address. Succeeds if the server
 * admitted more than one report of that device for the period.
 */
export async function deviceFlushes(world: World, source: number): Promise<AttackOutcome> {
  const log = new AttackLog('one device flushing 20 times, and its reports replayed 20 times (one report per period)');
  const { server } = world;
  server.clock.set((Math.floor(server.clock.now() / HOUR) + 1.25) * HOUR);
  const device = await startRuntimeDevice(server, { source, declared: DECLARED, now: server.clock.now });
  try {
    await device.run(40, RAW_INPUT);
    for (let i = 0; i < 20; i++) await device.runtime.flush();
    server.clock.advance(DAY + 2 * 60_000);
    for (let i = 0; i < 20; i++) await device.runtime.flush();
    const posts = telemetryPosts(device.sent);
    for (const post of posts) {
      for (let i = 0; i < 20; i++) {
        const replay = await loopbackRequest(new URL('v1/apps/demo/telemetry', server.url), {
          method: 'POST',
          body: JSON.stringify(post.report),
          headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
          from: sourceAddress(source),
        });
        const accepted = replay.status === 202 && (JSON.parse(replay.body) as { accepted: boolean }).accepted;
        log.attempt(accepted ? `a replay of report ${post.report.reportId} was admitted again` : null);
      }
    }
    const admitted = posts.filter((p) => p.accepted);
    log.attempt(admitted.length > 1 ? `${admitted.length} reports of one device admitted for one period` : null);
    log.note(`the device sent ${posts.length} report(s) in 40 flushes; ${admitted.length} admitted`);
    if (admitted.length !== 1) throw new Error(`the device's one report for its period was not admitted (${posts.length} sent): the attack proves nothing`);
    return log.outcome;
  } finally {
    await device.dispose();
  }
}

/**
 * The server's signed profile lists `x[300]`, a raw input element, next to two features the app
 * declared. Devices must count and report only the declared ones: their stored counts for `x[300]`
 * stay empty and no report's summary names it.
 */
export async function rawInputProfile(world: World, firstSource: number, devices: number): Promise<AttackOutcome> {
  const log = new AttackLog('a signed profile naming a raw input element (x[300]) the app never declared');
  const { server } = world;
  const raw = server.profile.numeric.findIndex((f) => f.name === PROFILE_FEATURES.raw);
  if (raw < 0) throw new Error(`the attack server's profile does not list ${PROFILE_FEATURES.raw}`);
  server.clock.set((Math.floor(server.clock.now() / HOUR) + 1.25) * HOUR);
  const started = await Promise.all(Array.from({ length: devices }, (_, d) => startRuntimeDevice(server, { source: firstSource + d, declared: DECLARED, now: server.clock.now })));
  try {
    for (const device of started) {
      await device.run(50, RAW_INPUT);
      await device.runtime.flush(); // stores the counts; the period has not ended
      const state = await device.state();
      const counted = state.accumulators.flatMap((a) => (a.entry.features === null ? [] : [a.entry.features]));
      const leaked = counted.some((f) => f.declared.includes(raw) || (f.cells[raw] ?? []).some((c) => c > 0));
      log.attempt(leaked ? `a device counted ${PROFILE_FEATURES.raw}, which the app never declared` : counted.length === 0 ? 'the device counted no feature at all (the attack proves nothing)' : null);
    }
    server.clock.advance(DAY + 2 * 60_000);
    for (const device of started) {
      await device.runtime.flush();
      for (const { report } of telemetryPosts(device.sent)) {
        const named = report.models.some((m) => m.summary?.feature === raw);
        log.attempt(named ? `report ${report.reportId} carries a value of ${PROFILE_FEATURES.raw}` : null);
      }
    }
    return log.outcome;
  } finally {
    await Promise.all(started.map((d) => d.dispose()));
  }
}
