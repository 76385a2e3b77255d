import { z } from 'zod';
import { HEALTH_FIELDS, type HealthField } from '../config/telemetry-config.js';
import { TelemetryError } from '../errors.js';
import type { ReportCohort } from '../record/entry-accumulator.js';

/**
 * Wire version of reports. Schema 3 carries only privatized values (device-level privacy, see
 * docs/telemetry-privacy.md); earlier schemas sent exact counts and are refused.
 */
export const REPORT_SCHEMA_VERSION = 3;

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'use 1–64 lowercase letters, digits, ".", "_" or "-"');
const version = z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/, 'use 1–64 letters, digits, ".", "+", "_" or "-"');
const backend = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, 'use 1–32 lowercase letters, digits, ".", "_" or "-"');
const int = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

const healthSchema = z.strictObject({
  errored: z.union([z.literal(0), z.literal(1)]),
  errorKind: z.number().int().min(0).max(255),
  latencyP50: int,
  latencyP95: int,
  reverted: z.union([z.literal(0), z.literal(1)]),
  fellBack: z.union([z.literal(0), z.literal(1)]),
  inferences: int,
});

const entrySchema = z.strictObject({
  model: name,
  version,
  backend,
  /** The device's rollout assignment for this model; absent outside a rollout's audience. */
  cohort: z.strictObject({ rollout: name, arm: z.enum(['candidate', 'control']), step: z.number().int().min(0).max(63) }).optional(),
  health: healthSchema,
  counters: z
    .record(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, 'use 1–32 lowercase letters, digits or "_"'), int)
    .refine((c) => Object.keys(c).length <= 16, 'at most 16 counters')
    .optional(),
  /** One noised value of one feature of the release's reference profile. */
  summary: z
    .strictObject({ profile: z.string().min(1).max(256), feature: z.number().int().min(0).max(1023), cell: z.number().int().min(0).max(1024) })
    .optional(),
});

export const telemetryReportSchema = z.strictObject({
  schema: z.literal(REPORT_SCHEMA_VERSION),
  /** Random per report: lets the server drop a replayed report. Never tied to a device. */
  reportId: z.uuid(),
  app: name,
  /**
   * When the accounting period the report covers started, in whole hours since the epoch. A period
   * lasts the config's `periodMs`; a device starts a new one when its release of a model changes.
   */
  period: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Id of the signed telemetry config the report was privatized under. */
  config: z.string().regex(/^tc_[0-9a-z]{1,40}$/),
  /** ε the report spent (config/accountant.ts); the server recomputes it. */
  epsilon: z.number().min(0).max(1000),
  models: z.array(entrySchema).min(1).max(16),
});

export type TelemetryReport = z.infer<typeof telemetryReportSchema>;
/** One entry of a report: one model version on one backend under one rollout assignment. */
export type ReportEntry = z.infer<typeof entrySchema>;
export type ReportHealth = Record<HealthField, number>;
export type ReportSummary = NonNullable<ReportEntry['summary']>;
export type { ReportCohort };

/**
 * Validates an untrusted value as a schema-3 {@link TelemetryReport} (shape, names, ranges, unique
 * entries). Throws a {@link TelemetryError} naming each bad field. Whether the values fit the
 * config they claim is checked by `admitReport`, where the config is known.
 */
export function parseReport(value: unknown): TelemetryReport {
  const schema = (value as { schema?: unknown } | null)?.schema;
  if (typeof schema === 'number' && schema !== REPORT_SCHEMA_VERSION) {
    throw new TelemetryError(
      'invalid_report',
      `telemetry report schema ${schema} is no longer accepted: it sent exact counts; update @edgeloop/runtime, which sends schema ${REPORT_SCHEMA_VERSION}`,
    );
  }
  const result = telemetryReportSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new TelemetryError('invalid_report', `invalid telemetry report: ${issues.join('; ')}`, issues);
  }
  const seen = new Set<string>();
  for (const [i, entry] of result.data.models.entries()) {
    const c = entry.cohort;
    const key = `${entry.model}\u0000${entry.version}\u0000${entry.backend}\u0000${c ? `${c.rollout}:${c.arm}:${c.step}` : ''}`;
    if (seen.has(key)) throw new TelemetryError('invalid_report', `invalid telemetry report: models.${i} repeats an earlier entry's model, version, backend and cohort`);
    seen.add(key);
  }
  return result.data as TelemetryReport;
}

/** Health fields in wire order, for code that walks them. */
export const REPORT_HEALTH_FIELDS: readonly HealthField[] = HEALTH_FIELDS;
