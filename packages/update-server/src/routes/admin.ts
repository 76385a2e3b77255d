import { Hono } from 'hono';
import { modelFormatSchema } from '@edgeloop/protocol';
import { ServerError } from '../errors.js';
import { nameParam, versionParam } from '../http/params.js';
import type { Registry } from '../registry/registry.js';
import { unknownApp } from '../registry/registry.js';
import type { TelemetryStore } from '../telemetry/telemetry-store.js';

/** The operator's API under `/v1/admin`: publish and inspect models, read telemetry. */
export function adminRoutes(deps: { registry: Registry; telemetry: TelemetryStore }): Hono {
  const { registry, telemetry } = deps;
  const admin = new Hono();

  admin.get('/apps', async (c) => c.json({ apps: await registry.listApps() }));

  admin.get('/apps/:app/models', async (c) => {
    const app = nameParam(c.req.param('app'), 'app');
    return c.json({ app, models: await registry.listModels(app) });
  });

  admin.get('/apps/:app/models/:model', async (c) => {
    const app = nameParam(c.req.param('app'), 'app');
    const model = nameParam(c.req.param('model'), 'model');
    return c.json({ app, model, versions: await registry.listVersions(app, model) });
  });

  admin.get('/apps/:app/models/:model/versions/:version', async (c) => {
    const app = nameParam(c.req.param('app'), 'app');
    const model = nameParam(c.req.param('model'), 'model');
    return c.json(await registry.getVersion(app, model, versionParam(c.req.param('version'))));
  });

  admin.post('/apps/:app/models/:model/versions/:version', async (c) => {
    const app = nameParam(c.req.param('app'), 'app');
    const model = nameParam(c.req.param('model'), 'model');
    const version = versionParam(c.req.param('version'));
    const formatResult = modelFormatSchema.safeParse(c.req.query('format') ?? 'onnx');
    if (!formatResult.success) {
      throw new ServerError('bad_request', `query parameter "format" must be one of: ${modelFormatSchema.options.join(', ')}`);
    }
    const contentType = c.req.header('content-type') ?? 'application/octet-stream';
    if (!contentType.startsWith('application/octet-stream')) {
      throw new ServerError(
        'unsupported_media_type',
        `send the model file as the raw request body with Content-Type: application/octet-stream (e.g. curl --data-binary @model.onnx); got ${contentType}`,
      );
    }
    const body = c.req.raw.body;
    if (!body) throw new ServerError('invalid_model', 'the upload is empty: send the model file as the request body');
    const record = await registry.publish({ app, model, version, format: formatResult.data, body });
    return c.json(record, 201);
  });

  admin.get('/apps/:app/telemetry/summary', async (c) => {
    const app = nameParam(c.req.param('app'), 'app');
    if (!(await registry.appExists(app))) throw unknownApp(app);
    return c.json({ app, models: await telemetry.summary(app) });
  });

  return admin;
}
