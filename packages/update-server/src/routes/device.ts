import { Hono } from 'hono';
import type { BlobStore } from '../blobs/blob-store.js';
import { ServerError } from '../errors.js';
import { sha256Param } from '../http/params.js';
import { artifactResponse } from './artifact-response.js';

/** What devices call, without credentials: manifests, artifact bytes (model files and reference profiles), telemetry reports. */
export function deviceRoutes(deps: { blobs: BlobStore }): Hono {
  const { blobs } = deps;
  const device = new Hono();

  // GET /apps/:app/manifest (manifest/manifest-route.ts) and POST /apps/:app/telemetry
  // (telemetry/ingest.ts) are mounted ahead of everything in app.ts.

  device.on(['GET', 'HEAD'], '/artifacts/sha256/:sha256', async (c) =>
    artifactResponse(c.req.raw, blobs, sha256Param(c.req.param('sha256'))),
  );

  // Profiles were once served unsigned here; a server could hand a device any profile. They are
  // now listed (id, sha256, length, url) on the release in the signed manifest.
  device.get('/apps/:app/models/:model/versions/:version/profile', () => {
    throw new ServerError(
      'gone',
      "reference profiles are no longer served here: the signed manifest lists each release's profile (release.profile: id, sha256, length, url) and devices fetch it from that content-addressed url; update @edgeloop/runtime",
    );
  });

  return device;
}
