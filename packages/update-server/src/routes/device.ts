import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { parseReport, TelemetryError } from '@edgeloop/telemetry';
import type { BlobStore } from '../blobs/blob-store.js';
import { ServerError } from '../errors.js';
import { nameParam, sha256Param } from '../http/params.js';
import type { ManifestCache } from '../manifest/manifest-cache.js';
import type { TelemetryStore } from '../telemetry/telemetry-store.js';
import { artifactResponse } from './artifact-response.js';

export const MAX_REPORT_BYTES = 64 * 1024;

/** What devices call, without credentials: manifests, artifact bytes, telemetry reports. */
export function deviceRoutes(deps: { manifests: ManifestCache; blobs: BlobStore; telemetry: TelemetryStore }): Hono {
  const { manifests, blobs, telemetry } = deps;
  const device = new Hono();

  device.get('/apps/:app/manifest', async (c) => {
    const app = nameParam(c.req.param('app'), 'app');
    const { body, etag } = await manifests.get(app);
    const headers = { ETag: etag, 'Cache-Control': 'no-cache' };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(body, 200, { ...headers, 'Content-Type': 'application/json; charset=utf-8' });
  });

  device.on(['GET', 'HEAD'], '/artifacts/sha256/:sha256', async (c) =>
    artifactResponse(c.req.raw, blobs, sha256Param(c.req.param('sha256'))),
  );

  device.post(
    '/apps/:app/telemetry',
    bodyLimit({
      maxSize: MAX_REPORT_BYTES,
      onError: () => {
        throw new ServerError('payload_too_large', `telemetry reports are limited to ${MAX_REPORT_BYTES} bytes; flush more often`);
      },
    }),
    async (c) => {
      const app = nameParam(c.req.param('app'), 'app');
      let json: unknown;
      try {
        json = await c.req.json();
      } catch {
        throw new ServerError('bad_request', 'the telemetry report is not valid JSON');
      }
      let report;
      try {
        report = parseReport(json);
      } catch (error) {
        const cause = TelemetryError.fromUnknown(error);
        throw new ServerError('bad_request', cause.message, cause.details);
      }
      if (report.app !== app) {
        throw new ServerError('bad_request', `report is for app "${report.app}" but was posted to app "${app}"`);
      }
      await manifests.get(app); // 404 for an unknown app, from memory when warm
      const result = await telemetry.ingest(report);
      return c.json({ accepted: result.accepted }, 202);
    },
  );

  return device;
}
