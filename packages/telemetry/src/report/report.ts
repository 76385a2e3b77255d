import { z } from 'zod';
import { TelemetryError } from '../errors.js';
import { LatencyHistogram } from '../latency/latency-histogram.js';
import { fastCheckReport } from './fast-check-report.js';
import { assertSummariesConsistent, reportSummariesSchema } from './summaries-schema.js';

/**
 * Wire version new reports are written in. Schema 2 is schema 1 plus optional per-model
 * `summaries` (feature and output histograms); {@link parseReport} accepts both, told apart by `schema`.
 */
export const REPORT_SCHEMA_VERSION = 2;

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'use 1–64 lowercase letters, digits, ".", "_" or "-"');

const latencySchema = z.object({
  alpha: z.number().gt(0).lt(1),
  zero: z.number().int().nonnegative(),
  bins: z.array(z.tuple([z.number().int(), z.number().int().positive()])).max(4096),
  min: z.number().nonnegative().nullable(),
  max: z.number().nonnegative().nullable(),
});

const modelSummaryV1Schema = z.object({
  model: name,
  version: z.string().min(1).max(64),
  backend: z.string().min(1).max(32),
  inferences: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  latencyMs: latencySchema,
});

/** Counts keyed by a short kind name (error codes, runtime events); at most 32 kinds. */
const kindCounts = z
  .record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'use 1–32 lowercase letters, digits, "_" or "-"'), z.number().int().positive())
  .refine((counts) => Object.keys(counts).length <= 32, 'at most 32 kinds');

const modelSummaryV2Schema = modelSummaryV1Schema.extend({
  /** Input-feature and output histograms against the model version's reference profile. */
  summaries: reportSummariesSchema.optional(),
  /** The device's rollout cohort for this model (protocol `selectRelease`); absent when no rollout runs. */
  cohort: z.object({ rollout: name, arm: z.enum(['candidate', 'control', 'excluded']) }).optional(),
  /** Time from `load()` to a ready session, one observation per load in this window. */
  loadMs: latencySchema.optional(),
  /** Latency of the first inference after each load (also counted in `latencyMs`): warm-up cost. */
  firstInferenceMs: latencySchema.optional(),
  /** Failed inferences by error code; the counts add up to `errors`. */
  errorKinds: kindCounts.optional(),
  /** Runtime events by type, e.g. `backend-lost` (a backend fallback) or `worker-restarted`. */
  events: kindCounts.optional(),
});

const envelope = {
  /** Random per report: lets the server drop a replayed report. Never tied to a device. */
  reportId: z.uuid(),
  app: name,
  sentAt: z.iso.datetime(),
};

const reportV1Schema = z.object({ schema: z.literal(1), ...envelope, models: z.array(modelSummaryV1Schema).max(256) });
const reportV2Schema = z.object({ schema: z.literal(2), ...envelope, models: z.array(modelSummaryV2Schema).max(256) });

/** Every report schema the server accepts, discriminated by `schema`. */
export const telemetryReportSchema = z.discriminatedUnion('schema', [reportV1Schema, reportV2Schema]);

export type TelemetryReport = z.infer<typeof telemetryReportSchema>;
export type TelemetryReportV1 = z.infer<typeof reportV1Schema>;
export type TelemetryReportV2 = z.infer<typeof reportV2Schema>;
/** One model's part of a report; `summaries` only ever appears in schema 2. */
export type ModelSummary = z.infer<typeof modelSummaryV2Schema>;

/**
 * Validates an untrusted value as a {@link TelemetryReport} of schema 1 or 2, including that every
 * latency histogram and feature summary is internally consistent. Throws a {@link TelemetryError}
 * naming each bad field. Whether summaries fit their reference profile is checked on aggregation,
 * where the profile is known.
 */
export function parseReport(value: unknown): TelemetryReport {
  // The hot path: a plain, exactly-shaped report needs no copy (see fast-check-report.ts).
  const result = fastCheckReport(value) ? { data: value as TelemetryReport } : telemetryReportSchema.safeParse(value);
  if ('error' in result && result.error !== undefined) {
    const issues = result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new TelemetryError('invalid_report', `invalid telemetry report: ${issues.join('; ')}`, issues);
  }
  for (const [i, summary] of result.data.models.entries()) {
    try {
      const histogram = LatencyHistogram.fromJSON(summary.latencyMs);
      if (histogram.count !== summary.inferences) {
        throw new TelemetryError(
          'invalid_report',
          `latency histogram holds ${histogram.count} observations but inferences is ${summary.inferences}`,
        );
      }
    } catch (error) {
      const cause = TelemetryError.fromUnknown(error);
      throw new TelemetryError('invalid_report', `invalid telemetry report: models.${i}.latencyMs: ${cause.message}`);
    }
  }
  if (result.data.schema === 2) {
    for (const [i, summary] of result.data.models.entries()) {
      for (const field of ['loadMs', 'firstInferenceMs'] as const) {
        const histogram = summary[field];
        if (histogram === undefined) continue;
        try {
          LatencyHistogram.fromJSON(histogram);
        } catch (error) {
          throw new TelemetryError('invalid_report', `invalid telemetry report: models.${i}.${field}: ${TelemetryError.fromUnknown(error).message}`);
        }
      }
      if (summary.errorKinds !== undefined) {
        const sum = Object.values(summary.errorKinds).reduce((a, b) => a + b, 0);
        if (sum !== summary.errors) {
          throw new TelemetryError('invalid_report', `invalid telemetry report: models.${i}.errorKinds add up to ${sum} but errors is ${summary.errors}`);
        }
      }
      const { summaries } = summary;
      if (summaries === undefined) continue;
      try {
        assertSummariesConsistent(summaries);
      } catch (error) {
        const cause = TelemetryError.fromUnknown(error);
        throw new TelemetryError('invalid_report', `invalid telemetry report: models.${i}.summaries: ${cause.message}`);
      }
    }
  }
  return result.data;
}
