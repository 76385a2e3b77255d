/**
 * Honest devices for the attacks: each sends one real sealed schema-3 report (raw counts built as
 * the runtime builds them, noised by `sealReport` under the server's signed config) from its own
 * loopback source address. Reports are deterministic in the device's number, so two servers (two
 * "worlds") can be sent byte-identical traffic.
 */
import { seededRng, type ReportCohort, type TelemetryReport } from '@edgeloop/telemetry';
import { deviceReport, lastPeriod } from '../../packages/update-server/src/testing/telemetry-devices.js';
import type { AttackServer } from './attack-server.js';
import { loopbackRequest, sourceAddress, type HttpAnswer } from './loopback-http.js';

/** Where a device's day went: one entry per report, like the runtime sends. */
export interface DeviceKey {
  version: '5.0.0' | '6.0.0';
  backend: string;
  /** `candidate` / `control` at step 0 of the server's rollout, or none. */
  arm?: ReportCohort['arm'];
}

/** A v4-shaped UUID that is a function of `n`: replays and worlds line up exactly. */
export function deterministicUuid(n: number): string {
  const rng = seededRng(n * 7919 + 17);
  const hex = Array.from({ length: 32 }, () => Math.floor(rng.next() * 16).toString(16));
  hex[12] = '4';
  hex[16] = '89ab'[Math.floor(rng.next() * 4)]!;
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/** The report device `n` sends now for `key`: 50 inferences, a few errors, features recorded against the profile. */
export function honestReport(server: AttackServer, n: number, key: DeviceKey): TelemetryReport {
  const rng = seededRng(n);
  const rows = Array.from({ length: 50 }, () => server.profile.numeric.map(() => rng.next() * 2 - 1));
  return deviceReport({
    config: server.config,
    period: lastPeriod(server.config, server.clock.now()),
    uses: [
      {
        model: 'vad',
        version: key.version,
        backend: key.backend,
        ...(key.arm !== undefined && { cohort: { rollout: server.rollout, arm: key.arm, step: 0 } }),
        attempts: 50,
        failed: n % 7 === 0 ? 2 : 0,
        latencyMs: 2 + (n % 5),
        features: { profile: server.profile, rows },
      },
    ],
    rng: seededRng(n + 1_000_003),
    reportId: deterministicUuid(n),
  });
}

/** POSTs reports as one request from device (or attacker) `source`: a loopback address of its own. */
export function postReports(server: AttackServer, source: number, reports: TelemetryReport | TelemetryReport[]): Promise<HttpAnswer> {
  return loopbackRequest(new URL('v1/apps/demo/telemetry', server.url), {
    method: 'POST',
    body: JSON.stringify(reports),
    headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
    from: sourceAddress(source),
  });
}

/** Device `n` sends its report for `key`; throws unless it is admitted (honest traffic must be). */
export async function sendHonest(server: AttackServer, n: number, key: DeviceKey): Promise<void> {
  const answer = await postReports(server, n, honestReport(server, n, key));
  if (answer.status !== 202) throw new Error(`honest device ${n} was refused (${answer.status}): ${answer.body}`);
}
