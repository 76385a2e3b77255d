import { TelemetryError } from '../errors.js';
import { HEALTH_FIELDS, type TelemetryConfig } from './telemetry-config.js';

/**
 * The privacy accountant. The unit of privacy is one device over one accounting period (a day by
 * default). Everything a device sends about a period is one report; by basic composition its ε is
 * the sum of the ε of every privatized field in it. A report with E entries gives each entry 1/E of
 * the config's per-entry ε, and each field inside it ε_f / E:
 *
 *   ε_report = (1/E) · Σ_entries ( Σ_health ε_f + Σ_counters ε_c + [summary] · ε_drift )
 *
 * so a report never spends more than the per-entry total, however many models the device ran.
 */

/** ε of one entry's health fields and counters (before the 1/E split). */
export function entryHealthEpsilon(config: TelemetryConfig): number {
  let total = 0;
  for (const field of HEALTH_FIELDS) total += config.health[field].epsilon;
  for (const counter of Object.values(config.counters)) total += counter.epsilon;
  return total;
}

/** The most one report can spend under `config`: every entry with a summary. */
export function maxReportEpsilon(config: TelemetryConfig): number {
  return roundEpsilon(entryHealthEpsilon(config) + config.drift.epsilon);
}

/** What a report with these entries spends; `summary` says whether the entry carries a drift summary. */
export function reportEpsilon(config: TelemetryConfig, entries: ReadonlyArray<{ summary: boolean }>): number {
  if (entries.length === 0) return 0;
  if (entries.length > config.maxEntries) {
    throw new TelemetryError('invalid_argument', `a report carries at most ${config.maxEntries} entries under config ${config.id}, got ${entries.length}`);
  }
  const health = entryHealthEpsilon(config);
  let total = 0;
  for (const entry of entries) total += health + (entry.summary ? config.drift.epsilon : 0);
  return roundEpsilon(total / entries.length);
}

/** The ε each field of an entry gets in a report of `entries` entries: the config's ε divided by E. */
export function fieldEpsilon(epsilon: number, entries: number): number {
  if (!Number.isInteger(entries) || entries < 1) throw new TelemetryError('invalid_argument', `entries must be an integer ≥ 1, got ${entries}`);
  return epsilon / entries;
}

/** ε values are compared after rounding to 1e-9, so 0.1 + 0.2 equals 0.3 on both sides of the wire. */
export function roundEpsilon(epsilon: number): number {
  return Math.round(epsilon * 1e9) / 1e9;
}
