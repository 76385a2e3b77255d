/**
 * Everything a dashboard user (a `read` token) can ask the server about telemetry, fetched at once:
 * every view over every whole-hour range between the hours of interest, with and without model and
 * version filters, plus the summary, the releases, the config, the rollout and its gate decisions,
 * the registry and the profiles. Two such snapshots taken of two servers that differ only in reports
 * still below the floor must be identical: otherwise the attacker learned something about them.
 */
import type { AttackServer } from './attack-server.js';
import { expectStatus } from './attack-server.js';
import { loopbackRequest } from './loopback-http.js';

const HOUR = 3_600_000;
const VIEWS = ['performance', 'cohorts', 'drift', 'drift?byCohort=true', 'releases'] as const;
const PARALLEL = 8;
const FILTERS = ['', 'model=vad', 'model=vad&version=5.0.0', 'model=vad&version=6.0.0', 'version=6.0.0'] as const;

/** Normalized answers by normalized request path. */
export type Snapshot = Map<string, string>;

/** A read-only token, created by the operator, as a dashboard (or a curious analyst) holds. */
export async function readerHeaders(server: AttackServer): Promise<Record<string, string>> {
  const created = await server.admin('POST', 'tokens', { name: 'dashboard', scopes: ['read'] });
  expectStatus(created, 201, 'creating a read token');
  return { Authorization: `Bearer ${(JSON.parse(created.body) as { token: string }).token}` };
}

/**
 * The attacker's view. `hours` are the hour starts (ms) around which ranges are asked: every
 * [a, b) with a < b among them, on every view and filter (`wide`), or only the views' default range.
 */
export async function snapshot(server: AttackServer, reader: Record<string, string>, options: { hours: readonly number[]; wide: boolean }): Promise<Snapshot> {
  const paths: string[] = [];
  const ranges = [''];
  if (options.wide) {
    const hours = [...new Set(options.hours.map((h) => Math.floor(h / HOUR) * HOUR))].sort((a, b) => a - b);
    for (const [i, from] of hours.entries()) for (const to of hours.slice(i + 1)) ranges.push(`from=${iso(from)}&to=${iso(to)}`);
  }
  // Every filter over the default range, every range unfiltered: each view is a sum of releases, so
  // these are the answers differencing could combine.
  const queries = [...(options.wide ? FILTERS : ['']), ...ranges.slice(1)];
  for (const view of VIEWS) {
    const [path, fixed] = view.split('?') as [string, string | undefined];
    for (const query of queries) {
      const all = [fixed, query].filter((q) => q !== undefined && q !== '').join('&');
      paths.push(`telemetry/${path}${all === '' ? '' : `?${all}`}`);
    }
  }
  paths.push('telemetry/summary', 'telemetry/config', 'rollouts', `rollouts/${server.rollout}`, `rollouts/${server.rollout}/decisions`, 'models/vad');
  for (const version of ['5.0.0', '6.0.0']) paths.push(`models/vad/versions/${version}/profile`);
  const answers: Snapshot = new Map();
  // A few requests at a time: the answers do not depend on their order.
  for (let i = 0; i < paths.length; i += PARALLEL) {
    await Promise.all(
      paths.slice(i, i + PARALLEL).map(async (path) => {
        const answer = await loopbackRequest(new URL(`v1/admin/apps/demo/${path}`, server.url), { headers: reader, timeoutMs: 20_000 });
        answers.set(normalize(path, server), `${answer.status} ${normalize(answer.body, server)}`);
      }),
    );
  }
  return answers;
}

/** Paths whose answers differ between two snapshots (taken with the same hours). */
export function differences(a: Snapshot, b: Snapshot): string[] {
  const out: string[] = [];
  for (const [path, answer] of a) if (b.get(path) !== answer) out.push(path);
  for (const path of b.keys()) if (!a.has(path)) out.push(path);
  return out;
}

/**
 * Answers (and paths) of two servers differ in what each server chose at random (the rollout id and
 * salt, the publisher's token id) and in when each registry row was written (`createdAt` comes from
 * the database's own clock). Replace those; everything else (release ids, times on the shared fake
 * clock) must match.
 */
function normalize(body: string, server: AttackServer): string {
  return body
    .replaceAll(server.rollout, 'ROLLOUT')
    .replace(/"salt":"[^"]*"/g, '"salt":"SALT"')
    .replace(/tok_[0-9a-f]+/g, 'TOKEN')
    .replace(/"createdAt":"[^"]*"/g, '"createdAt":"CREATED"');
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** The releases the server made (every view is a sum of them), read through the API. */
export async function releasesOf(server: AttackServer, reader: Record<string, string>): Promise<ReleaseSeen[]> {
  const answer = await loopbackRequest(new URL('v1/admin/apps/demo/telemetry/releases?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z', server.url), { headers: reader });
  expectStatus(answer, 200, 'reading releases');
  return (JSON.parse(answer.body) as { releases: ReleaseSeen[] }).releases;
}

export interface ReleaseSeen {
  model: string;
  version: string;
  backend: string;
  cohort: { rollout: string; arm: string; step: number } | null;
  windowFrom: string;
  windowTo: string;
  reports: number;
}
