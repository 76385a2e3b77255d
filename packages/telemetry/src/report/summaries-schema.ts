import { z } from 'zod';
import { TelemetryError } from '../errors.js';
import { COUNT_SENSITIVITY } from '../privacy/discrete-laplace.js';

/** Largest |count| a report may carry; far above any clipped count plus noise. */
const MAX_ABS_COUNT = 1_000_000_000;
/** Largest clip a report may declare: bounds how much one (possibly malicious) report can weigh. */
export const MAX_CLIP = 10_000;
/**
 * A noised cell more than t = 41/ln(1/a) outside [0, total] is refused: discrete Laplace noise has
 * P(|X| ≥ t) ≤ 2aᵗ = 2e^(−41) < 10⁻¹⁷ there, so only a forged report is turned away.
 */
const TAIL_LOG_BOUND = 41;

const privacySchema = z.object({
  /** Only mechanism so far: discrete Laplace on every cell, Δ = 2 (one inference replaced). */
  mechanism: z.literal('discrete_laplace'),
  /** ε of the whole summary set (event-level: per inference, per report, per window). Split evenly over entries. */
  epsilon: z.number().positive().max(1000),
  /** Values kept per entry at most (contribution bound); totals never exceed it. */
  clip: z.number().int().positive().max(MAX_CLIP),
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
 * total; clipped totals stay within the clip; noised counts stay within what the noise can explain,
 * so one forged report cannot outweigh many honest ones. Throws a {@link TelemetryError} naming the entry.
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
      // ln(1/a) = ε_entry / Δ.
      const slack = (TAIL_LOG_BOUND * COUNT_SENSITIVITY) / (privacy.epsilon / cells.length);
      for (const c of cells[e]!) {
        if (c < -slack || c > total + slack) {
          throw new TelemetryError(
            'invalid_report',
            `summaries entry ${e}: noised count ${c} is implausible for total ${total} at ε = ${privacy.epsilon} (noise reaches ±${Math.floor(slack)} with probability < 1e-17)`,
          );
        }
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
