import { z } from 'zod';
import { TelemetryError } from '../errors.js';
import { LatencyHistogram } from '../latency/latency-histogram.js';
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

const modelSummaryV2Schema = modelSummaryV1Schema.extend({
  /** Input-feature and output histograms against the model version's reference profile. */
  summaries: reportSummariesSchema.optional(),
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
  const result = telemetryReportSchema.safeParse(value);
  if (!result.success) {
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
    for (const [i, { summaries }] of result.data.models.entries()) {
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
