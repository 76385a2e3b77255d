import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { requireScope, type AuthEnv } from '../../auth/authorize.js';
import { floored } from '../../telemetry/analysis.js';
import type { Registry } from '../../registry/registry.js';
import { unknownApp } from '../../registry/registry.js';
import type { TelemetryStore } from '../../telemetry/telemetry-store.js';
import { appParams, errorResponses, json, recordSchema, security } from './common.js';

const summary = createRoute({
  method: 'get', path: '/apps/{app}/telemetry/summary', summary: 'Counts and latency per model version and backend', security,
  middleware: [requireScope('read')] as const, request: { params: appParams },
  responses: { 200: json(recordSchema, 'Summary'), ...errorResponses },
});

export function telemetryRoutes(api: OpenAPIHono<AuthEnv>, deps: { registry: Registry; telemetry: TelemetryStore; minReports: number }): void {
  api.openapi(summary, async (c) => {
    const { app } = c.req.valid('param');
    if (!(await deps.registry.appExists(app))) throw unknownApp(app);
    // The same floor as every other telemetry view: below it, not even the count is shown.
    const models = (await deps.telemetry.summary(app)).map(({ model, version, backend, reports, ...numbers }) => ({
      model,
      version,
      backend,
      ...floored(reports, () => numbers, deps.minReports),
    }));
    return c.json({ app, minReports: deps.minReports, models }, 200);
  });
}
