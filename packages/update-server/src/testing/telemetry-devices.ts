import {
  emptyEntry,
  FeatureRecorder,
  LatencyHistogram,
  parseTelemetryConfig,
  sealReport,
  seededRng,
  type ReferenceProfile,
  type ReportCohort,
  type Rng,
  type TelemetryConfig,
  type TelemetryReport,
} from '@edgeloop/telemetry';

/** What one device did with one model version in one period, before anything is noised. */
export interface DeviceUse {
  model: string;
  version: string;
  backend?: string;
  cohort?: ReportCohort;
  /** Inference attempts (default 50) and how many failed (default 0) with which code. */
  attempts?: number;
  failed?: number;
  errorCode?: string;
  /** Latency of every successful inference, ms (default 2). */
  latencyMs?: number;
  reverted?: boolean;
  fellBack?: boolean;
  counters?: Record<string, number>;
  /** Feature values recorded against the version's profile (numeric features, one row per inference). */
  features?: { profile: ReferenceProfile; rows: ReadonlyArray<readonly number[]> };
}

/**
 * A real schema-3 report of one device: raw counts built like the runtime builds them, sealed by
 * `@edgeloop/telemetry`'s own `sealReport` under `config` (noise included). For server tests.
 */
export function deviceReport(options: { app?: string; config: TelemetryConfig; period: number; uses: readonly DeviceUse[]; rng?: Rng; reportId?: string }): TelemetryReport {
  const rng = options.rng ?? seededRng(Math.floor(Math.random() * 2 ** 31));
  const entries = options.uses.map((use) => {
    const entry = emptyEntry({ model: use.model, version: use.version, backend: use.backend ?? 'wasm', cohort: use.cohort ?? null });
    const attempts = use.attempts ?? 50;
    const failed = use.failed ?? 0;
    entry.attempts = attempts;
    entry.successes = attempts - failed;
    if (failed > 0) entry.errors = { [use.errorCode ?? 'engine']: failed };
    const latency = new LatencyHistogram();
    for (let i = 0; i < entry.successes; i++) latency.record(use.latencyMs ?? 2);
    entry.latency = latency.toJSON();
    entry.reverted = use.reverted ?? false;
    entry.fellBack = use.fellBack ?? false;
    entry.counters = { ...use.counters };
    if (use.features) {
      const recorder = new FeatureRecorder(use.features.profile);
      for (const row of use.features.rows) recorder.record(row);
      entry.features = { profile: use.features.profile.id, declared: recorder.declaredEntries(), cells: recorder.drain().cells };
    }
    return entry;
  });
  const sealed = sealReport({ app: options.app ?? 'demo', period: options.period, config: options.config, entries, reportId: options.reportId ?? crypto.randomUUID(), rng });
  if (!sealed) throw new Error('deviceReport: nothing to report (give at least one use with attempts)');
  return sealed.report;
}

/** The telemetry config a signed manifest carries (what a device reports under). */
export function manifestConfig(envelope: unknown): TelemetryConfig {
  const signed = (envelope as { signed?: { telemetry?: unknown } }).signed;
  return parseTelemetryConfig(signed?.telemetry);
}

/** A period that has just ended at `now` under `config`, as reports name it: the hour it started. */
export function lastPeriod(config: TelemetryConfig, now: number): number {
  return Math.floor((now - config.periodMs) / 3_600_000);
}
