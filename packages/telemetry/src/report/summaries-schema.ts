import { z } from 'zod';
import { TelemetryError } from '../errors.js';

/** Largest |count| a report may carry; far above any clipped count plus noise. */
const MAX_ABS_COUNT = 1_000_000_000;

const privacySchema = z.object({
  /** Only mechanism so far: discrete Laplace on every cell, Δ = 2 (one inference replaced). */
  mechanism: z.literal('discrete_laplace'),
  /** ε of the whole summary set (event-level: per inference, per report, per window). Split evenly over entries. */
  epsilon: z.number().positive().max(1000),
  /** Values kept per entry at most (contribution bound); totals never exceed it. */
  clip: z.number().int().positive(),
});

/**
 * Schema of the per-model feature and output summaries carried by report schema 2:
 * cells per entry of the reference profile named by `profile`, in profile order.
 */
export const reportSummariesSchema = z.object({
  profile: z.string().min(1).max(256),
  /** Values counted per entry after clipping. Public: the noise protects which cell, not how many. */
  totals: z.array(z.number().int().nonnegative()).max(1024),
  cells: z.array(z.array(z.number().int().min(-MAX_ABS_COUNT).max(MAX_ABS_COUNT)).min(1).max(1025)).max(1024),
  /** null: raw counts (privacy off). */
  privacy: privacySchema.nullable(),
});

/** Per-model feature/output summaries in a report (schema 2). */
export type ReportSummaries = z.infer<typeof reportSummariesSchema>;
/** How a {@link ReportSummaries} was privatized. */
export type SummaryPrivacy = z.infer<typeof privacySchema>;

/**
 * Checks what the schema cannot: one total per entry; raw counts are ≥ 0 and add up to their
 * total; clipped totals stay within the clip. Throws a {@link TelemetryError} naming the entry.
 */
export function assertSummariesConsistent(summaries: ReportSummaries): void {
  const { totals, cells, privacy } = summaries;
  if (totals.length !== cells.length) {
    throw new TelemetryError('invalid_report', `summaries carry ${cells.length} cell lists but ${totals.length} totals`);
  }
  for (let e = 0; e < cells.length; e++) {
    const total = totals[e]!;
    if (privacy !== null) {
      if (total > privacy.clip) {
        throw new TelemetryError('invalid_report', `summaries entry ${e}: total ${total} exceeds the clip ${privacy.clip}`);
      }
      continue;
    }
    let sum = 0;
    for (const c of cells[e]!) {
      if (c < 0) throw new TelemetryError('invalid_report', `summaries entry ${e}: raw counts must be ≥ 0 when privacy is null`);
      sum += c;
    }
    if (sum !== total) {
      throw new TelemetryError('invalid_report', `summaries entry ${e}: raw counts add up to ${sum}, not its total ${total}`);
    }
  }
}
