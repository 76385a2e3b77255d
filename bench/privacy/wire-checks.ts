/**
 * What may leave a device, checked on requests captured at the wire. Each violation is one line
 * saying what left that should not have; `exact_fields_leaving_device` is their number.
 */
import { ERROR_KINDS, HEALTH_FIELDS, parseReport, TelemetryError, type ReferenceProfile, type TelemetryReport } from '@edgeloop/telemetry';
import type { WireRequest } from './capturing-proxy.js';

/** What the devices did, exactly: the checks look for it in what they sent. */
export interface WireTruth {
  /** Successful and failed inferences per device in its period. */
  successes: number;
  failures: number;
  /** Features the page declared reportable (by name); the profile may list more. */
  declared: string[];
  profile: ReferenceProfile;
  devices: number;
}

/**
 * Headers a request of the runtime may carry, each for a reason the runtime cannot avoid or that
 * carries nothing about the device beyond what the server told every device:
 * - set by the browser on every fetch and not removable by a page (forbidden request headers, client
 *   hints sent by default, fetch metadata): host, connection, content-length, user-agent, accept,
 *   accept-encoding, accept-language, origin, priority, sec-ch-ua*, sec-fetch-*;
 * - content-type: the telemetry POST's `text/plain;charset=UTF-8` (checked below), the one header the
 *   runtime sets on it;
 * - cache and resume validators, whose values must be ETags the server sent (checked below):
 *   if-none-match (manifest, profile), range / if-range (resuming an artifact), with the
 *   cache-control / pragma a revalidating fetch adds.
 */
const ALLOWED_HEADERS = new Set([
  'host', 'connection', 'content-length', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'origin', 'priority',
  'sec-ch-ua', 'sec-ch-ua-mobile', 'sec-ch-ua-platform', 'sec-fetch-site', 'sec-fetch-mode', 'sec-fetch-dest',
  'content-type', 'if-none-match', 'if-range', 'range', 'cache-control', 'pragma',
]);
const TOP_LEVEL = ['schema', 'reportId', 'app', 'period', 'config', 'epsilon', 'models'];
const ENTRY = new Set(['model', 'version', 'backend', 'cohort', 'health', 'counters', 'summary']);
/** Laplace-noised fields: with noise of scale ≥ 100 they never agree across devices by chance (p < 1e-8). */
const NOISED = ['inferences', 'latencyP50', 'latencyP95'] as const;

export function checkWire(captured: readonly WireRequest[], seenByBrowser: ReadonlyArray<{ method: string; path: string }>, truth: WireTruth): string[] {
  const violations: string[] = [];
  const runtime = captured.filter((r) => !r.page);
  const etags = new Set(runtime.map((r) => r.responseHeaders.etag).filter((e): e is string => e !== undefined));
  const reports: TelemetryReport[] = [];
  for (const request of runtime) {
    const at = `${request.method} ${request.path}`;
    for (const [name, value] of Object.entries(request.headers)) {
      if (name === 'cookie') violations.push(`${at}: sent the origin's cookie (${value.slice(0, 20)}…): credentials were not omitted`);
      else if (name === 'referer') violations.push(`${at}: sent a Referer (${value})`);
      else if (!ALLOWED_HEADERS.has(name)) violations.push(`${at}: sent header ${name}: ${value.slice(0, 60)}, which the runtime could avoid`);
      else if ((name === 'if-none-match' || name === 'if-range') && !value.split(/,\s*/).every((tag) => etags.has(tag))) {
        violations.push(`${at}: ${name} carries ${value}, which is no ETag the server gave`);
      } else if (name === 'range' && !/^bytes=\d+-$/.test(value)) violations.push(`${at}: range ${value} is not a resume`);
    }
    if (request.method !== 'POST' || !request.path.endsWith('/telemetry')) continue;
    if (request.headers['content-type'] !== 'text/plain;charset=UTF-8') violations.push(`${at}: content-type ${request.headers['content-type']} instead of text/plain;charset=UTF-8`);
    violations.push(...checkBody(at, request.body.toString('utf8'), truth, reports));
  }
  if (reports.length === 0) violations.push('no telemetry report was captured: nothing was checked');
  for (const field of NOISED) {
    const values = reports.map((r) => r.models[0]!.health[field]);
    if (reports.length >= 2 && values.every((v) => v === values[0])) violations.push(`health.${field} is ${values[0]} in all ${reports.length} reports of devices that did the same: it is not noised`);
  }
  if (reports.length > 0 && reports.every((r) => r.models[0]!.health.inferences === Math.min(truth.successes, 100))) {
    violations.push(`health.inferences equals the exact count of successes (${truth.successes}) in every report`);
  }
  // Everything the browser asked for must have been seen at the wire: otherwise the checks missed it.
  const wire = new Set(runtime.map((r) => `${r.method} ${r.path}`));
  for (const request of seenByBrowser) {
    if (!request.path.startsWith('/v1/')) continue;
    if (!wire.has(`${request.method} ${request.path}`)) violations.push(`${request.method} ${request.path}: the browser sent it but the capture at the wire did not see it`);
  }
  return violations;
}

function checkBody(at: string, text: string, truth: WireTruth, reports: TelemetryReport[]): string[] {
  const out: string[] = [];
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return [`${at}: the body is not JSON`];
  }
  const errorCodes = ERROR_KINDS.filter((k) => k !== 'none');
  const names = [...truth.profile.numeric.map((f) => f.name), ...truth.profile.categorical.map((f) => f.name)];
  const declared = new Set(truth.declared.map((name) => names.indexOf(name)));
  for (const value of Array.isArray(json) ? json : [json]) {
    walk(value, '', (path, leaf) => {
      if (typeof leaf === 'number' && Math.abs(leaf) >= 1e9) out.push(`${at}: ${path} = ${leaf} looks like a timestamp`);
      if (typeof leaf === 'string' && /^\d{4}-\d\d-\d\dT/.test(leaf)) out.push(`${at}: ${path} = ${leaf} is a timestamp`);
      if (typeof leaf === 'string' && (errorCodes as readonly string[]).includes(leaf)) out.push(`${at}: ${path} = "${leaf}" is an error kind in clear`);
      if (typeof leaf === 'number' && !/health\.|counters\./.test(path) && [truth.successes, truth.failures, truth.successes + truth.failures].includes(leaf)) {
        out.push(`${at}: ${path} = ${leaf} is an exact count of this device's inferences`);
      }
    });
    const object = value as Record<string, unknown>;
    const extra = Object.keys(object).filter((k) => !TOP_LEVEL.includes(k));
    if (extra.length > 0) out.push(`${at}: fields beyond schema 3: ${extra.join(', ')}`);
    for (const [i, entry] of ((object.models ?? []) as Array<Record<string, unknown>>).entries()) {
      const more = Object.keys(entry).filter((k) => !ENTRY.has(k));
      if (more.length > 0) out.push(`${at}: models.${i} has fields beyond schema 3: ${more.join(', ')}`);
      const health = Object.keys((entry.health ?? {}) as object);
      if (health.length !== HEALTH_FIELDS.length || !health.every((k) => (HEALTH_FIELDS as readonly string[]).includes(k))) out.push(`${at}: models.${i}.health has fields ${health.join(', ')}`);
      const summary = entry.summary as { feature?: number } | undefined;
      if (summary?.feature !== undefined && !declared.has(summary.feature)) out.push(`${at}: models.${i}.summary reports feature ${names[summary.feature] ?? summary.feature}, which the app never declared`);
    }
    try {
      reports.push(parseReport(value));
    } catch (error) {
      out.push(`${at}: not a valid schema-3 report: ${TelemetryError.fromUnknown(error).message}`);
    }
  }
  return out;
}

function walk(value: unknown, path: string, visit: (path: string, leaf: unknown) => void): void {
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) walk(child, path === '' ? key : `${path}.${key}`, visit);
    return;
  }
  visit(path, value);
}
