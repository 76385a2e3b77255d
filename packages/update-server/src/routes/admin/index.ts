import { OpenAPIHono } from '@hono/zod-openapi';
import { bearerAuth, type AuthEnv } from '../../auth/authorize.js';
import type { TokenStore } from '../../auth/tokens.js';
import type { BlobStore } from '../../blobs/blob-store.js';
import type { Database } from '../../db/database.js';
import type { Registry } from '../../registry/registry.js';
import type { RolloutService } from '../../rollouts/rollout-service.js';
import type { ProfileStore } from '../../profiles/profile-store.js';
import type { TelemetryConfigStore } from '../../telemetry/config/config-store.js';
import type { ReportFloor } from '../../telemetry/report-floor.js';
import type { TelemetryViews } from '../../telemetry/views/views.js';
import { validationHook } from './common.js';
import { profileRoutes } from './profile-routes.js';
import { referenceRoutes } from './reference.js';
import { registryRoutes } from './registry-routes.js';
import { rolloutRoutes } from './rollout-routes.js';
import { telemetryRoutes } from './telemetry-routes.js';
import { tokenRoutes } from './token-routes.js';

export interface AdminDeps {
  db: Database;
  blobs: BlobStore;
  registry: Registry;
  rollouts: RolloutService;
  tokens: TokenStore;
  profiles: ProfileStore;
  views: TelemetryViews;
  configs: TelemetryConfigStore;
  /** Reports anything shown needs (privacy floor), and whether this is a demo. */
  floor: ReportFloor;
  gcGraceMs: number;
  now: () => number;
}

/**
 * The operator's API under `/v1/admin`: every route is declared with zod schemas, which validate
 * requests and generate the OpenAPI 3.1 document (`/v1/admin/openapi.json`) and the reference page
 * (`/v1/admin/reference`, served from this server: reference.ts). Both are public; everything
 * else needs a bearer token.
 */
export function adminApi(deps: AdminDeps): OpenAPIHono<AuthEnv> {
  const api = new OpenAPIHono<AuthEnv>({ defaultHook: validationHook });
  api.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'elk_… token' });
  api.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'edgeloop admin API', version: '1', description: 'Registry, channels, rollouts, tokens, audit and telemetry views of an edgeloop update server.' },
    servers: [{ url: '/v1/admin' }],
  });
  referenceRoutes(api);
  api.use('/apps', bearerAuth(deps.tokens));
  api.use('/apps/*', bearerAuth(deps.tokens));
  registryRoutes(api, deps);
  rolloutRoutes(api, deps.rollouts);
  tokenRoutes(api, deps);
  telemetryRoutes(api, deps);
  profileRoutes(api, deps);
  return api;
}
