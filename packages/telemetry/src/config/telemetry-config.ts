import { z } from 'zod';
import { TelemetryError } from '../errors.js';

/**
 * The signed telemetry configuration: how a device privatizes what it sends. The server publishes it
 * inside the signed manifest (`manifest.telemetry`); the device reports under it and echoes its id;
 * the server refuses reports whose parameters do not match it. Nothing about privacy is taken from
 * a report.
 */

/** Health fields every report entry carries, in wire order. */
export const HEALTH_FIELDS = ['errored', 'errorKind', 'latencyP50', 'latencyP95', 'reverted', 'fellBack', 'inferences'] as const;
export type HealthField = (typeof HEALTH_FIELDS)[number];

/** How each health field is released: binary randomized response, k-ary randomized response, or a clipped integer with discrete Laplace noise. */
export type HealthMechanism = 'rr' | 'krr' | 'laplace';

export const HEALTH_MECHANISM: Readonly<Record<HealthField, HealthMechanism>> = Object.freeze({
  errored: 'rr',
  errorKind: 'krr',
  latencyP50: 'laplace',
  latencyP95: 'laplace',
  reverted: 'rr',
  fellBack: 'rr',
  inferences: 'laplace',
});

/**
 * `errorKind` values: index 0 is "no error"; then the runtime's error codes a failed `run()` can have;
 * anything else is `other`. Part of the wire contract: append only.
 */
export const ERROR_KINDS = ['none', 'engine', 'backend_lost', 'worker', 'invalid_output', 'other'] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Latency fields are log₂ milliseconds in 1/8-octave units (one unit ≈ 9 %). */
export const LATENCY_UNITS_PER_OCTAVE = 8;
/** `inferences` is clipped to this many per entry and period. */
export const INFERENCES_CLIP = 100;

/** Where one latency field of one (model, backend) is clipped: [center − halfRange, center + halfRange] in latency units. */
export interface LatencyRange {
  center: number;
  halfRange: number;
}

/** The clip ranges of a (model, backend): p50 and p95 are centred apart (a device's p95 sits well above its p50). */
export interface LatencyRanges {
  latencyP50: LatencyRange;
  latencyP95: LatencyRange;
}

/** Used for a (model, backend) the config does not name: 16 ms ± 8 octaves (0.06 ms … 4 s). */
export const DEFAULT_LATENCY_RANGE: Readonly<LatencyRange> = Object.freeze({ center: 4 * LATENCY_UNITS_PER_OCTAVE, halfRange: 8 * LATENCY_UNITS_PER_OCTAVE });

export interface TelemetryConfig {
  format: 'edgeloop-telemetry-config';
  version: 1;
  /** Assigned by the server; reports echo it. */
  id: string;
  /** Accounting period: a device sends at most one report per period. Default one day. */
  periodMs: number;
  /** Entries (model × version × backend) one report carries at most. */
  maxEntries: number;
  health: Record<HealthField, { epsilon: number }>;
  drift: { epsilon: number };
  /** Per model, per backend; absent pairs use {@link DEFAULT_LATENCY_RANGE}. */
  latency: Record<string, Record<string, LatencyRanges>>;
  /** App-defined counters the server accepts: clipped to [0, clip] per entry and period, then noised. */
  counters: Record<string, { clip: number; epsilon: number }>;
}

const MAX_EPSILON = 64;
const epsilon = z.number().positive().max(MAX_EPSILON);
const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'use 1–64 lowercase letters, digits, ".", "_" or "-"');
const counterName = z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'use 1–32 lowercase letters, digits or "_", starting with a letter');

const rangeSchema = z.strictObject({
  center: z.number().int().min(-20 * LATENCY_UNITS_PER_OCTAVE).max(40 * LATENCY_UNITS_PER_OCTAVE),
  halfRange: z.number().int().min(1).max(16 * LATENCY_UNITS_PER_OCTAVE),
});

export const telemetryConfigSchema = z.strictObject({
  format: z.literal('edgeloop-telemetry-config'),
  version: z.literal(1),
  id: z.string().regex(/^tc_[0-9a-z]{1,40}$/, 'use "tc_" and 1–40 lowercase letters or digits'),
  periodMs: z.number().int().min(1000).max(7 * 86_400_000),
  maxEntries: z.number().int().min(1).max(16),
  health: z.strictObject({
    errored: z.strictObject({ epsilon }),
    errorKind: z.strictObject({ epsilon }),
    latencyP50: z.strictObject({ epsilon }),
    latencyP95: z.strictObject({ epsilon }),
    reverted: z.strictObject({ epsilon }),
    fellBack: z.strictObject({ epsilon }),
    inferences: z.strictObject({ epsilon }),
  }),
  drift: z.strictObject({ epsilon }),
  latency: z.record(name, z.record(z.string().min(1).max(32), z.strictObject({ latencyP50: rangeSchema, latencyP95: rangeSchema }))),
  counters: z.record(counterName, z.strictObject({ clip: z.number().int().min(1).max(1_000_000), epsilon })).refine((c) => Object.keys(c).length <= 16, 'at most 16 counters'),
});

/** Default ε per health field (per entry, before the split over a report's entries): 3 in all. */
export const DEFAULT_HEALTH_EPSILON: Readonly<Record<HealthField, number>> = Object.freeze({
  errored: 1.9,
  errorKind: 0.02,
  latencyP50: 0.05,
  latencyP95: 0.83,
  reverted: 0.09,
  fellBack: 0.09,
  inferences: 0.02,
})

/** Default ε of the drift summary (one value of one feature), per entry before the split: 5. */
export const DEFAULT_DRIFT_EPSILON = 5;

/**
 * The default configuration: one report per device per day spending ε = 8 in all (3 on health,
 * 5 on one feature value), the split the drift power measurement in docs/telemetry-privacy.md chose.
 */
export function defaultTelemetryConfig(id = 'tc_default', overrides: Partial<Omit<TelemetryConfig, 'format' | 'version' | 'id'>> = {}): TelemetryConfig {
  return parseTelemetryConfig({
    format: 'edgeloop-telemetry-config',
    version: 1,
    id,
    periodMs: 86_400_000,
    maxEntries: 4,
    health: Object.fromEntries(HEALTH_FIELDS.map((f) => [f, { epsilon: DEFAULT_HEALTH_EPSILON[f] }])),
    drift: { epsilon: DEFAULT_DRIFT_EPSILON },
    latency: {},
    counters: {},
    ...overrides,
  });
}

/** Validates an untrusted value as a {@link TelemetryConfig}; throws a {@link TelemetryError} naming every bad field. */
export function parseTelemetryConfig(value: unknown): TelemetryConfig {
  const result = telemetryConfigSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new TelemetryError('invalid_config', `invalid telemetry config: ${issues.join('; ')}`, issues);
  }
  return result.data as TelemetryConfig;
}

/** The clip range of a latency field of (model, backend) under `config`. */
export function latencyRange(config: TelemetryConfig, model: string, backend: string, field: 'latencyP50' | 'latencyP95'): LatencyRange {
  return config.latency[model]?.[backend]?.[field] ?? DEFAULT_LATENCY_RANGE;
}

/** Clip (Δ) of a Laplace health field. */
export function laplaceClip(config: TelemetryConfig, field: LaplaceField, model: string, backend: string): number {
  if (field === 'inferences') return INFERENCES_CLIP;
  return 2 * latencyRange(config, model, backend, field).halfRange;
}

export type LaplaceField = 'latencyP50' | 'latencyP95' | 'inferences';
export type RrField = 'errored' | 'reverted' | 'fellBack';
