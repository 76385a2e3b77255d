import { Hono } from 'hono';
import type { BlobStore } from '../blobs/blob-store.js';
import type { ErrorBody } from '../errors.js';
import { nameParam, sha256Param, versionParam } from '../http/params.js';
import type { ProfileStore } from '../telemetry/profile-store.js';
import { artifactResponse } from './artifact-response.js';

/** What devices call, without credentials: manifests, artifact bytes, reference profiles, telemetry reports. */
export function deviceRoutes(deps: { blobs: BlobStore; profiles: ProfileStore }): Hono {
  const { blobs, profiles } = deps;
  const device = new Hono();

  // GET /apps/:app/manifest (manifest/manifest-route.ts) and POST /apps/:app/telemetry
  // (telemetry/ingest.ts) are mounted ahead of everything in app.ts.

  device.on(['GET', 'HEAD'], '/artifacts/sha256/:sha256', async (c) =>
    artifactResponse(c.req.raw, blobs, sha256Param(c.req.param('sha256'))),
  );

  // The reference profile a device records its feature summaries against. Public like the
  // manifest; it changes only when the operator uploads a new one, so caches may keep it briefly.
  device.get('/apps/:app/models/:model/versions/:version/profile', async (c) => {
    const target = { app: nameParam(c.req.param('app'), 'app'), model: nameParam(c.req.param('model'), 'model'), version: versionParam(c.req.param('version')) };
    const stored = await profiles.get(target);
    if (!stored) {
      // Most versions have no profile, and every device asks on every load: let caches keep the
      // answer as long as they would keep a profile, so a warm start sends no request for it.
      const body: ErrorBody = {
        error: {
          code: 'not_found',
          message: `model "${target.app}/${target.model}" version "${target.version}" has no reference profile; upload one with PUT /v1/admin/apps/${target.app}/models/${target.model}/versions/${target.version}/profile`,
        },
      };
      return c.json(body, 404, { 'Cache-Control': 'public, max-age=300' });
    }
    const headers = { ETag: stored.etag, 'Cache-Control': 'public, max-age=300' };
    if (c.req.header('if-none-match') === stored.etag) return c.body(null, 304, headers);
    return c.body(stored.body, 200, { ...headers, 'Content-Type': 'application/json; charset=utf-8' });
  });

  return device;
}
