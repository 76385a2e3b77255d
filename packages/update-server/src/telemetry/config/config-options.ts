import { createHash } from 'node:crypto';
import { canonicalJson } from '@edgeloop/protocol';
import {
  defaultTelemetryConfig,
  HEALTH_FIELDS,
  parseTelemetryConfig,
  TelemetryError,
  type HealthField,
  type LatencyRange,
  type LatencyRanges,
  type TelemetryConfig,
} from '@edgeloop/telemetry';
import { ServerError } from '../../errors.js';

/**
 * What an operator may set of the signed telemetry config (`createApp({ telemetry: { config } })`);
 * the rest is the default. Latency ranges start at the default and the server narrows them from
 * released data (telemetry/config/narrow-latency.ts); `latency` pins the ranges of some
 * (model, backend) pairs instead (never narrowed): e.g. ±1 octave (`halfRange: 8`) for a fleet
 * whose devices are known to be that close, which halves the noise the default narrowing leaves.
 */
export interface TelemetryConfigOptions {
  /** Accounting period in ms (one report per device per period). Default one day. */
  periodMs?: number;
  /** Entries one report carries at most. Default 4. */
  maxEntries?: number;
  /** ε per health field, per entry before the split over a report's entries. */
  health?: Partial<Record<HealthField, { epsilon: number }>>;
  /** ε of the drift summary. Default 5. */
  drift?: { epsilon: number };
  /** App-defined counters devices may send: clip and ε of each. Default none. */
  counters?: Record<string, { clip: number; epsilon: number }>;
  /** Pinned latency clip ranges per model and backend (p50 and p95 each), used as given. */
  latency?: TelemetryConfig['latency'];
}

/** Everything in a config but its id and latency ranges: what the options decide. */
export type ConfigSettings = Omit<TelemetryConfig, 'id' | 'latency'>;

/** The settings the options ask for, checked; throws naming the bad field. */
export function settingsFromOptions(options: TelemetryConfigOptions = {}): ConfigSettings {
  const base = defaultTelemetryConfig();
  const health = Object.fromEntries(HEALTH_FIELDS.map((f) => [f, { epsilon: options.health?.[f]?.epsilon ?? base.health[f].epsilon }])) as TelemetryConfig['health'];
  const draft = {
    ...base,
    ...(options.periodMs !== undefined && { periodMs: options.periodMs }),
    ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
    health,
    ...(options.drift !== undefined && { drift: options.drift }),
    ...(options.counters !== undefined && { counters: options.counters }),
  };
  try {
    const { id: _id, latency: _latency, ...settings } = parseTelemetryConfig(draft);
    return settings;
  } catch (error) {
    throw new ServerError('bad_request', `telemetry config options: ${TelemetryError.fromUnknown(error).message}`);
  }
}

/**
 * A config with its id: `tc_` + 16 hex digits of the sha256 of the canonical JSON of everything
 * else, so the same parameters always get the same id, on every instance.
 */
export function buildConfig(settings: ConfigSettings, latency: TelemetryConfig['latency']): TelemetryConfig {
  const body = { ...settings, latency: sortedLatency(latency) };
  const id = `tc_${createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 16)}`;
  return parseTelemetryConfig({ ...body, id });
}

/** Whether two configs have the same settings (latency ranges aside). */
export function sameSettings(a: ConfigSettings, b: ConfigSettings): boolean {
  return canonicalJson(settingsOf(a)) === canonicalJson(settingsOf(b));
}

export function settingsOf(config: ConfigSettings): ConfigSettings {
  const { format, version, periodMs, maxEntries, health, drift, counters } = config;
  return { format, version, periodMs, maxEntries, health, drift, counters };
}

function sortedLatency(latency: TelemetryConfig['latency']): TelemetryConfig['latency'] {
  const out: Record<string, Record<string, LatencyRanges>> = {};
  const copy = (r: LatencyRange): LatencyRange => ({ center: r.center, halfRange: r.halfRange });
  for (const model of Object.keys(latency).sort()) {
    const backends = latency[model]!;
    if (Object.keys(backends).length === 0) continue;
    out[model] = Object.fromEntries(
      Object.keys(backends)
        .sort()
        .map((b) => [b, { latencyP50: copy(backends[b]!.latencyP50), latencyP95: copy(backends[b]!.latencyP95) }]),
    );
  }
  return out;
}

/** `pinned` over `narrowed`, per (model, backend). */
export function withPinned(narrowed: TelemetryConfig['latency'], pinned: TelemetryConfig['latency']): TelemetryConfig['latency'] {
  const out = structuredClone(narrowed);
  for (const [model, backends] of Object.entries(pinned)) for (const [backend, ranges] of Object.entries(backends)) (out[model] ??= {})[backend] = ranges;
  return out;
}

/** The pinned ranges of the options, checked like a config's. */
export function pinnedLatency(options: TelemetryConfigOptions = {}): TelemetryConfig['latency'] {
  if (options.latency === undefined) return {};
  try {
    return parseTelemetryConfig({ ...defaultTelemetryConfig(), latency: options.latency }).latency;
  } catch (error) {
    throw new ServerError('bad_request', `telemetry config options: ${TelemetryError.fromUnknown(error).message}`);
  }
}
