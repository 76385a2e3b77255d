import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { ReferenceProfile, TelemetryError } from '@edgeloop/telemetry';
import { requireScope, type AuthEnv } from '../../auth/authorize.js';
import { ServerError } from '../../errors.js';
import type { Registry } from '../../registry/registry.js';
import { unknownApp } from '../../registry/registry.js';
import { TelemetryAnalysis } from '../../telemetry/analysis.js';
import type { ProfileStore } from '../../telemetry/profile-store.js';
import { WINDOW_MS, type TelemetryStore } from '../../telemetry/telemetry-store.js';
import { appParams, errorResponses, json, jsonBody, nameSchema, security, versionParams } from './common.js';

const DEFAULT_RANGE_MS = 7 * 24 * WINDOW_MS;

/** Whole hours only: aggregates are hourly, and finer slicing would only invite differencing. */
const hourSchema = z.iso
  .datetime()
  .refine((value) => Date.parse(value) % WINDOW_MS === 0, 'must be a whole hour, e.g. 2026-01-31T14:00:00Z')
  .optional();
const rangeQuery = z.object({
  model: nameSchema.optional(),
  version: z.string().min(1).max(64).optional(),
  from: hourSchema.openapi({ description: 'First hour included (default: 7 days before `to`)' }),
  to: hourSchema.openapi({ description: 'First hour excluded (default: the hour after now)' }),
});

const hidden = z.object({ shown: z.literal(false), minReports: z.number().int() });
const quantiles = z.object({ p50: z.number().nullable(), p90: z.number().nullable(), p99: z.number().nullable(), p999: z.number().nullable() });
const cohort = z.object({ rollout: z.string(), arm: z.enum(['candidate', 'control', 'excluded']) }).nullable();
const counts = z.record(z.string(), z.number().int());
const shownCounts = {
  shown: z.literal(true),
  reports: z.number().int(),
  inferences: z.number().int(),
  errors: z.number().int(),
  errorRate: z.number(),
  latencyMs: quantiles,
};

const performanceSchema = z
  .object({
    app: z.string(),
    minReports: z.number().int(),
    versions: z.array(
      z.object({ model: z.string(), version: z.string(), backend: z.string() }).and(
        z.union([
          z.object({ ...shownCounts, errorsByKind: counts, events: counts, firstInferenceMs: quantiles.nullable(), loadMs: quantiles.nullable() }),
          hidden,
        ]),
      ),
    ),
  })
  .openapi('TelemetryPerformance');

const cohortsSchema = z
  .object({
    app: z.string(),
    minReports: z.number().int(),
    cohorts: z.array(z.object({ model: z.string(), version: z.string(), cohort }).and(z.union([z.object(shownCounts), hidden]))),
  })
  .openapi('TelemetryCohorts');

const featureDriftSchema = z.looseObject({
  name: z.string(),
  role: z.enum(['input', 'output']),
  kind: z.enum(['numeric', 'categorical']),
  verdict: z.enum(['drift', 'no_drift']),
  reason: z.string(),
  pValue: z.number(),
  qValue: z.number(),
  psi: z.object({ value: z.number(), threshold: z.number(), exceeded: z.boolean() }),
});
const driftSchema = z
  .object({
    app: z.string(),
    minReports: z.number().int(),
    versions: z.array(
      z.object({ model: z.string(), version: z.string(), cohort: cohort.optional(), profile: z.string().nullable() }).and(
        z.union([
          z.object({
            shown: z.literal(true),
            reports: z.number().int(),
            drift: z.looseObject({ profile: z.string(), verdict: z.enum(['drift', 'no_drift', 'insufficient_data']), features: z.array(featureDriftSchema) }),
          }),
          hidden,
        ]),
      ),
    ),
  })
  .openapi('TelemetryDrift');

const numericSamples = z.object({ name: z.string().min(1).max(128), role: z.enum(['input', 'output']).optional(), values: z.array(z.number()).min(1).max(1_000_000) });
const categoricalSamples = z.object({
  name: z.string().min(1).max(128),
  role: z.enum(['input', 'output']).optional(),
  values: z.array(z.string().max(256)).min(1).max(1_000_000),
  maxVocabulary: z.number().int().min(1).max(1024).optional(),
});
const profileBody = z
  .union([
    z.object({ profile: z.record(z.string(), z.unknown()).openapi({ description: 'A ReferenceProfileJSON (docs/telemetry.md)' }) }),
    z.object({
      samples: z.object({
        id: z.string().min(1).max(256).optional(),
        bins: z.number().int().min(2).max(256).optional(),
        numeric: z.array(numericSamples).max(1024).optional(),
        categorical: z.array(categoricalSamples).max(1024).optional(),
      }),
    }),
  ])
  .openapi('ReferenceProfileUpload');
const storedProfileSchema = z
  .object({ app: z.string(), model: z.string(), version: z.string(), profile: z.string(), etag: z.string(), url: z.string() })
  .openapi('StoredReferenceProfile');

const performance = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/performance', summary: 'Latency quantiles and error rates per version and backend (minimum-reports floor applies)', security,
  middleware: [requireScope('read')] as const, request: { params: appParams, query: rangeQuery },
  responses: { 200: json(performanceSchema, 'Performance'), ...errorResponses },
});
const cohorts = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/cohorts', summary: 'Counts, error rates and latency per rollout cohort (minimum-reports floor applies)', security,
  middleware: [requireScope('read')] as const, request: { params: appParams, query: rangeQuery },
  responses: { 200: json(cohortsSchema, 'Cohorts'), ...errorResponses },
});
const drift = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/drift', summary: 'Drift per feature and version against the reference profile (minimum-reports floor applies)', security,
  middleware: [requireScope('read')] as const,
  request: { params: appParams, query: rangeQuery.extend({ byCohort: z.enum(['true', 'false']).optional().openapi({ description: 'One verdict per cohort' }) }) },
  responses: { 200: json(driftSchema, 'Drift'), ...errorResponses },
});
const putProfile = createRoute({
  method: 'put', path: '/apps/{app}/models/{model}/versions/{version}/profile', summary: 'Upload the reference profile of a version, or reference samples to compute it from', security,
  middleware: [requireScope('publish')] as const, request: { params: versionParams, ...jsonBody(profileBody) },
  responses: { 200: json(storedProfileSchema, 'The stored profile; devices fetch it from `url`'), ...errorResponses },
});

/** Drift, performance, cohorts and reference profiles: everything shown respects the minimum-reports floor. */
export function telemetryAnalysisRoutes(
  api: OpenAPIHono<AuthEnv>,
  deps: { registry: Registry; telemetry: TelemetryStore; profiles: ProfileStore; minReports: number },
): void {
  const analysis = new TelemetryAnalysis({ store: deps.telemetry, profiles: deps.profiles }, deps.minReports);
  const known = async (app: string) => {
    if (!(await deps.registry.appExists(app))) throw unknownApp(app);
  };

  api.openapi(performance, async (c) => {
    const { app } = c.req.valid('param');
    await known(app);
    const versions = await analysis.performance(app, range(c.req.valid('query')));
    return c.json({ app, minReports: analysis.minReports, versions }, 200);
  });

  api.openapi(cohorts, async (c) => {
    const { app } = c.req.valid('param');
    await known(app);
    return c.json({ app, minReports: analysis.minReports, cohorts: await analysis.cohorts(app, range(c.req.valid('query'))) }, 200);
  });

  api.openapi(drift, async (c) => {
    const { app } = c.req.valid('param');
    await known(app);
    const query = c.req.valid('query');
    const versions = await analysis.drift(app, { ...range(query), byCohort: query.byCohort === 'true' });
    return c.json({ app, minReports: analysis.minReports, versions }, 200);
  });

  api.openapi(putProfile, async (c) => {
    const { app, model, version } = c.req.valid('param');
    const body = c.req.valid('json');
    let profile: ReferenceProfile;
    try {
      profile = 'profile' in body
        ? ReferenceProfile.fromJSON(body.profile)
        : ReferenceProfile.fromSamples({ ...body.samples, id: body.samples.id ?? `${model}@${version}/${Date.now().toString(36)}` });
    } catch (error) {
      const cause = TelemetryError.fromUnknown(error);
      throw new ServerError('bad_request', cause.message, cause.details);
    }
    const stored = await deps.profiles.put({ app, model, version }, profile, { actor: c.get('token').id, requestId: c.get('requestId') });
    const url = `/v1/apps/${app}/models/${model}/versions/${encodeURIComponent(version)}/profile`;
    return c.json({ app, model, version, profile: stored.profile.id, etag: stored.etag, url }, 200);
  });
}

function range(query: { model?: string | undefined; version?: string | undefined; from?: string | undefined; to?: string | undefined }) {
  const to = query.to === undefined ? new Date((Math.floor(Date.now() / WINDOW_MS) + 1) * WINDOW_MS) : new Date(query.to);
  const from = query.from === undefined ? new Date(to.getTime() - DEFAULT_RANGE_MS) : new Date(query.from);
  if (from >= to) throw new ServerError('bad_request', `query field "from" (${from.toISOString()}) must be before "to" (${to.toISOString()})`);
  return { from, to, ...(query.model !== undefined && { model: query.model }), ...(query.version !== undefined && { version: query.version }) };
}
