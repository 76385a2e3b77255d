import { z } from 'zod';
import { TelemetryError } from '../errors.js';
import { LatencyHistogram } from '../latency/latency-histogram.js';

/** Wire version of {@link TelemetryReport}; bumped on any incompatible change. */
export const REPORT_SCHEMA_VERSION = 1;

const name = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'use 1–64 lowercase letters, digits, ".", "_" or "-"');

const latencySchema = z.object({
  alpha: z.number().gt(0).lt(1),
  zero: z.number().int().nonnegative(),
  bins: z.array(z.tuple([z.number().int(), z.number().int().positive()])).max(4096),
  min: z.number().nonnegative().nullable(),
  max: z.number().nonnegative().nullable(),
});

const modelSummarySchema = z.object({
  model: name,
  version: z.string().min(1).max(64),
  backend: z.string().min(1).max(32),
  inferences: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  latencyMs: latencySchema,
});

export const telemetryReportSchema = z.object({
  schema: z.literal(REPORT_SCHEMA_VERSION),
  /** Random per report: lets the server drop a replayed report. Never tied to a device. */
  reportId: z.uuid(),
  app: name,
  sentAt: z.iso.datetime(),
  models: z.array(modelSummarySchema).max(256),
});

export type TelemetryReport = z.infer<typeof telemetryReportSchema>;
export type ModelSummary = z.infer<typeof modelSummarySchema>;

/**
 * Validates an untrusted value as a {@link TelemetryReport}, including that every latency histogram
 * is internally consistent. Throws a {@link TelemetryError} naming each bad field.
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
  return result.data;
}
