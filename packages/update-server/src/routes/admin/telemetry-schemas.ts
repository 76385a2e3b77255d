import { z } from '@hono/zod-openapi';
import { ERROR_KINDS } from '@edgeloop/telemetry';
import { WINDOW_MS } from '../../telemetry/window-store.js';
import { nameSchema } from './common.js';

/** Whole hours only: releases span whole hours, and finer slicing could only cut through one. */
const hourSchema = z.iso.datetime().refine((value) => Date.parse(value) % WINDOW_MS === 0, 'must be a whole hour, e.g. 2026-01-31T14:00:00Z').optional();

export const rangeQuery = z.object({
  model: nameSchema.optional(),
  version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/, 'must be a version label such as 6.0.0').optional(),
  from: hourSchema.openapi({ description: 'First hour of the range (default: 7 days before `to`). Releases that start earlier are left out whole.' }),
  to: hourSchema.openapi({ description: 'End of the range, exclusive (default: the end of the current hour). Releases that end later are left out whole.' }),
});

const interval = (description: string) =>
  z.object({ value: z.number(), low: z.number(), high: z.number() }).openapi({ description: `${description} Point estimate and 95 % interval (± 1.96 standard errors).` });

const cohort = z
  .object({ rollout: z.string(), arm: z.enum(['candidate', 'control']), step: z.number().int() })
  .nullable()
  .openapi({ description: 'The rollout arm and step the reports came from; null outside any rollout' });

const span = z.object({ from: z.string(), to: z.string() }).openapi({ description: 'Whole hours the merged releases span: [from, to)' });

export const healthShape = {
  reports: z.number().int().openapi({ description: 'Reports merged: one per device and accounting period (a device-period). Never below `minReports`.' }),
  errored: interval('Share of device-periods with at least one failed inference.'),
  errorKinds: z
    .record(z.string(), z.number())
    .openapi({ description: `Per error kind (${ERROR_KINDS.join(', ')}), the share of device-periods whose most frequent error was of that kind (\`none\`: no failed inference). Debiased, clamped to [0, 1].` }),
  latencyP50Ms: interval('Geometric mean over device-periods of each device’s median latency (ms). Each device clips to its (model, backend) latency range before noise.'),
  latencyP95Ms: interval('Geometric mean over device-periods of each device’s 95th-percentile latency (ms).'),
  inferences: interval('Successful inferences per device-period; each device’s count is clipped at 100 before noise.'),
  reverted: interval('Share of device-periods in which a trial of this model was reverted on the device.'),
  fellBack: interval('Share of device-periods in which the backend was lost and the model fell back.'),
  counters: z.record(z.string(), interval('')).openapi({ description: 'Per app-defined counter, its mean per device-period (each device clips before noise).' }),
};

/** Fields of every telemetry answer: the floor, the demo flag, and the notice that stands in for anything below the floor. */
export const answerShape = {
  app: z.string(),
  minReports: z.number().int().openapi({ description: 'The floor: nothing merged from fewer reports exists in any answer' }),
  demo: z.literal(true).optional().openapi({ description: 'Present when a demo server runs with a floor below 20: show a banner' }),
  range: z.object({ from: z.string(), to: z.string() }).optional(),
  notice: z.string().optional().openapi({ description: 'Says "fewer than N reports" when nothing in the range reached the floor, never how many' }),
};

export const performanceSchema = z
  .object({ ...answerShape, versions: z.array(z.object({ model: z.string(), version: z.string(), backend: z.string(), span, ...healthShape })) })
  .openapi('TelemetryPerformance');

export const cohortsSchema = z
  .object({ ...answerShape, cohorts: z.array(z.object({ model: z.string(), version: z.string(), cohort, span, ...healthShape })) })
  .openapi('TelemetryCohorts');

const featureDrift = z.looseObject({
  name: z.string(),
  role: z.enum(['input', 'output']),
  kind: z.enum(['numeric', 'categorical']),
  verdict: z.enum(['drift', 'no_drift']),
  reason: z.string(),
  reports: z.number().int(),
  pValue: z.number(),
  qValue: z.number(),
  psi: z.object({ value: z.number(), threshold: z.number(), exceeded: z.boolean() }),
});

export const driftSchema = z
  .object({
    ...answerShape,
    versions: z.array(
      z.object({
        model: z.string(),
        version: z.string(),
        cohort: cohort.optional(),
        span,
        reports: z.number().int(),
        profile: z.string().nullable().openapi({ description: 'The version’s reference profile (own, or inherited from its predecessor); null: none, so no drift verdict' }),
        drift: z
          .looseObject({ profile: z.string(), verdict: z.enum(['drift', 'no_drift', 'insufficient_data']), features: z.array(featureDrift) })
          .nullable(),
      }),
    ),
  })
  .openapi('TelemetryDrift');

export const summarySchema = z
  .object({
    ...answerShape,
    models: z.array(
      z.object({
        model: z.string(),
        version: z.string(),
        backend: z.string(),
        reports: healthShape.reports,
        errored: healthShape.errored,
        latencyP50Ms: healthShape.latencyP50Ms,
        latencyP95Ms: healthShape.latencyP95Ms,
        inferences: healthShape.inferences,
      }),
    ),
  })
  .openapi('TelemetrySummary');

export const releasesSchema = z
  .object({
    ...answerShape,
    releases: z.array(
      z.object({
        id: z.number().int(),
        model: z.string(),
        version: z.string(),
        backend: z.string(),
        cohort,
        windowFrom: z.string(),
        windowTo: z.string(),
        reports: z.number().int(),
        releasedAt: z.string(),
      }),
    ),
  })
  .openapi('TelemetryReleases');

export const configSchema = z
  .object({
    app: z.string(),
    current: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'The signed config devices get in `manifest.telemetry`; null before the app’s first manifest' }),
    history: z.array(
      z.object({
        id: z.string(),
        reason: z.enum(['initial', 'options', 'latency']),
        issuedAt: z.string(),
        supersededAt: z.string().nullable(),
        admitted: z.boolean().openapi({ description: 'Whether reports made under it are admitted now (current, or superseded less than 7 days ago)' }),
      }),
    ),
  })
  .openapi('TelemetryConfigs');
