import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { requireScope, type AuthEnv } from '../../auth/authorize.js';
import { ServerError } from '../../errors.js';
import type { Registry } from '../../registry/registry.js';
import { unknownApp } from '../../registry/registry.js';
import { TelemetryConfigStore } from '../../telemetry/config/config-store.js';
import type { ReportFloor } from '../../telemetry/report-floor.js';
import type { TelemetryViews } from '../../telemetry/views/views.js';
import { WINDOW_MS } from '../../telemetry/window-store.js';
import { appParams, errorResponses, json, security } from './common.js';
import { cohortsSchema, configSchema, driftSchema, performanceSchema, rangeQuery, releasesSchema, summarySchema } from './telemetry-schemas.js';

const DEFAULT_RANGE_MS = 7 * 24 * WINDOW_MS;

const performance = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/performance', security, middleware: [requireScope('read')] as const,
  summary: 'Health per model version and backend, from the releases inside the range',
  request: { params: appParams, query: rangeQuery },
  responses: { 200: json(performanceSchema, 'Estimates per (model, version, backend); nothing below the floor exists'), ...errorResponses },
});
const cohorts = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/cohorts', security, middleware: [requireScope('read')] as const,
  summary: 'Health per model version and rollout cohort (arm and step), from the releases inside the range',
  request: { params: appParams, query: rangeQuery },
  responses: { 200: json(cohortsSchema, 'Estimates per (model, version, cohort); nothing below the floor exists'), ...errorResponses },
});
const drift = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/drift', security, middleware: [requireScope('read')] as const,
  summary: 'Drift per version (and cohort) against its signed reference profile, from the releases inside the range',
  request: { params: appParams, query: rangeQuery.extend({ byCohort: z.enum(['true', 'false']).optional().openapi({ description: 'One verdict per rollout cohort' }) }) },
  responses: { 200: json(driftSchema, 'Verdicts per version; nothing below the floor exists'), ...errorResponses },
});
const summary = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/summary', security, middleware: [requireScope('read')] as const,
  summary: 'Reports, errors, latency and use per model version and backend, over every release',
  request: { params: appParams },
  responses: { 200: json(summarySchema, 'Estimates per (model, version, backend); nothing below the floor exists'), ...errorResponses },
});
const releases = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/releases', security, middleware: [requireScope('read')] as const,
  summary: 'The releases inside the range: cell key, hours and report count (every view is a sum of these)',
  request: { params: appParams, query: rangeQuery },
  responses: { 200: json(releasesSchema, 'Releases, oldest first'), ...errorResponses },
});
const config = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/config', security, middleware: [requireScope('read')] as const,
  summary: 'The signed telemetry config devices report under, and every config issued before it',
  request: { params: appParams },
  responses: { 200: json(configSchema, 'Current config and history'), ...errorResponses },
});

type Range = { from: Date; to: Date; model?: string; version?: string };

/** Telemetry views: every number comes from releases, and nothing below the floor exists in any answer. */
export function telemetryRoutes(
  api: OpenAPIHono<AuthEnv>,
  deps: { registry: Registry; views: TelemetryViews; configs: TelemetryConfigStore; floor: ReportFloor; now: () => number },
): void {
  const { views, floor } = deps;
  const known = async (app: string) => {
    if (!(await deps.registry.appExists(app))) throw unknownApp(app);
  };
  /** What every answer says about the floor; the notice stands in for an empty answer, never a count. */
  const answer = (app: string, range: Range | null, empty: boolean) => ({
    app,
    minReports: floor.minReports,
    ...(floor.demo && { demo: true as const }),
    ...(range && { range: { from: range.from.toISOString(), to: range.to.toISOString() } }),
    ...(empty && { notice: floor.fewer(range) }),
  });
  const rangeOf = (query: z.infer<typeof rangeQuery>): Range => {
    const to = query.to === undefined ? new Date((Math.floor(deps.now() / WINDOW_MS) + 1) * WINDOW_MS) : new Date(query.to);
    const from = query.from === undefined ? new Date(to.getTime() - DEFAULT_RANGE_MS) : new Date(query.from);
    if (from >= to) throw new ServerError('bad_request', `query field "from" (${from.toISOString()}) must be before "to" (${to.toISOString()})`);
    return { from, to, ...(query.model !== undefined && { model: query.model }), ...(query.version !== undefined && { version: query.version }) };
  };

  api.openapi(performance, async (c) => {
    const { app } = c.req.valid('param');
    await known(app);
    const range = rangeOf(c.req.valid('query'));
    const versions = await views.performance(app, range);
    return c.json({ ...answer(app, range, versions.length === 0), versions }, 200);
  });

  api.openapi(cohorts, async (c) => {
    const { app } = c.req.valid('param');
    await known(app);
    const range = rangeOf(c.req.valid('query'));
    const list = await views.cohorts(app, range);
    return c.json({ ...answer(app, range, list.length === 0), cohorts: list }, 200);
  });

  api.openapi(drift, async (c) => {
    const { app } = c.req.valid('param');
    await known(app);
    const query = c.req.valid('query');
    const range = rangeOf(query);
    const versions = await views.drift(app, { ...range, byCohort: query.byCohort === 'true' });
    return c.json({ ...answer(app, range, versions.length === 0), versions }, 200);
  });

  api.openapi(summary, async (c) => {
    const { app } = c.req.valid('param');
    await known(app);
    const models = await views.summary(app);
    return c.json({ ...answer(app, null, models.length === 0), models }, 200);
  });

  api.openapi(releases, async (c) => {
    const { app } = c.req.valid('param');
    await known(app);
    const range = rangeOf(c.req.valid('query'));
    const list = await views.releases(app, range);
    return c.json({ ...answer(app, range, list.length === 0), releases: list }, 200);
  });

  api.openapi(config, async (c) => {
    const { app } = c.req.valid('param');
    await known(app);
    const history = await deps.configs.history(app);
    const admitted = TelemetryConfigStore.admissible(history, deps.now());
    return c.json(
      {
        app,
        current: history.length === 0 ? null : { ...history[history.length - 1]!.config },
        history: history.map((h) => ({
          id: h.config.id,
          reason: h.reason,
          issuedAt: h.issuedAt.toISOString(),
          supersededAt: h.supersededAt?.toISOString() ?? null,
          admitted: admitted.has(h.config.id),
        })),
      },
      200,
    );
  });
}
