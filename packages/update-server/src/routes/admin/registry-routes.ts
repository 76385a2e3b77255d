import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { healthPolicySchema, modelFormatSchema } from '@edgeloop/protocol';
import { requireScope, type AuthEnv } from '../../auth/authorize.js';
import { grants } from '../../auth/scopes.js';
import { ServerError } from '../../errors.js';
import { describeVersions } from '../../registry/describe.js';
import type { UploadInput } from '../../registry/publish.js';
import type { Registry } from '../../registry/registry.js';
import { unknownApp } from '../../registry/registry.js';
import { fileRoleSchema, idempotencyKeySchema, parseFileRole } from '../../registry/upload-options.js';
import type { Database } from '../../db/database.js';
import { appParams, errorResponses, json, jsonBody, modelParams, nameSchema, recordSchema, security, versionParams } from './common.js';

const uploadQuery = z.strictObject({
  format: modelFormatSchema.default('onnx'),
  notes: z.string().max(2000).optional(),
  channel: nameSchema.optional(),
  backend: z.string().regex(/^[a-z0-9-]{1,32}$/, 'must be a backend name such as "webgpu"').optional(),
  precision: z.string().regex(/^[a-z0-9]{1,16}$/, 'must be a precision such as "fp16"').optional(),
});
const uploadHeaders = z.object({ 'idempotency-key': idempotencyKeySchema.optional() });
const rawBody = { content: { 'application/octet-stream': { schema: z.string().openapi({ format: 'binary' }) } }, required: true };

const publishVersion = createRoute({
  method: 'post',
  path: '/apps/{app}/models/{model}/versions/{version}',
  summary: 'Publish a new version (its default variant\'s model file, raw bytes)',
  security,
  middleware: [requireScope('publish')] as const,
  request: { params: versionParams, query: uploadQuery, headers: uploadHeaders, body: rawBody },
  responses: { 201: json(recordSchema, 'The version'), 413: json(recordSchema, 'Over the upload limit'), ...errorResponses },
});

const addFile = createRoute({
  method: 'post',
  path: '/apps/{app}/models/{model}/versions/{version}/variants/{variant}/files/{role}',
  summary: 'Add a file to a variant of a version (creates the variant)',
  security,
  middleware: [requireScope('publish')] as const,
  request: {
    params: versionParams.extend({ variant: nameSchema.openapi({ param: { name: 'variant', in: 'path' } }), role: z.string().max(64).openapi({ param: { name: 'role', in: 'path' }, description: `one of ${fileRoleSchema.options.join(', ')}`, example: 'weights' }) }),
    query: uploadQuery.omit({ channel: true }),
    headers: uploadHeaders,
    body: rawBody,
  },
  responses: { 201: json(recordSchema, 'The version with its variants'), ...errorResponses },
});

const listApps = createRoute({ method: 'get', path: '/apps', summary: 'Apps this token can see', security, responses: { 200: json(recordSchema, 'Apps'), ...errorResponses } });
const listModels = createRoute({
  method: 'get', path: '/apps/{app}/models', summary: 'Models of an app with their newest version', security,
  middleware: [requireScope('read')] as const, request: { params: appParams }, responses: { 200: json(recordSchema, 'Models'), ...errorResponses },
});
const listVersions = createRoute({
  method: 'get', path: '/apps/{app}/models/{model}', summary: 'Versions of a model, newest first', security,
  middleware: [requireScope('read')] as const, request: { params: modelParams }, responses: { 200: json(recordSchema, 'Versions'), ...errorResponses },
});
const getVersion = createRoute({
  method: 'get', path: '/apps/{app}/models/{model}/versions/{version}', summary: 'One version with variants, files, signature', security,
  middleware: [requireScope('read')] as const, request: { params: versionParams }, responses: { 200: json(recordSchema, 'Version'), ...errorResponses },
});

/** Unknown fields are refused (a misspelt "p95ratio" would otherwise silently keep the default). */
const healthBodySchema = z.strictObject(healthPolicySchema.shape);
const setHealth = createRoute({
  method: 'put', path: '/apps/{app}/models/{model}/versions/{version}/health',
  summary: 'Set the health policy devices apply when trying this version (`{}`: the defaults)', security,
  middleware: [requireScope('publish')] as const, request: { params: versionParams, ...jsonBody(healthBodySchema) },
  responses: { 200: json(recordSchema, 'The version with its policy'), ...errorResponses },
});

function checkContentType(contentType: string | undefined): void {
  const type = contentType ?? 'application/octet-stream';
  if (!type.startsWith('application/octet-stream')) {
    throw new ServerError(
      'unsupported_media_type',
      `send the model file as the raw request body with Content-Type: application/octet-stream (e.g. curl --data-binary @model.onnx); got ${type}`,
    );
  }
}

export function registryRoutes(api: OpenAPIHono<AuthEnv>, deps: { registry: Registry; db: Database }): void {
  const { registry, db } = deps;

  api.openapi(listApps, async (c) => {
    const token = c.get('token');
    return c.json({ apps: (await registry.listApps()).filter((app) => app.name === token.app) }, 200);
  });
  api.openapi(listModels, async (c) => {
    const { app } = c.req.valid('param');
    return c.json({ app, models: await registry.listModels(app) }, 200);
  });
  api.openapi(listVersions, async (c) => {
    const { app, model } = c.req.valid('param');
    if (!(await registry.appExists(app))) throw unknownApp(app);
    const versions = await describeVersions(db, app, model);
    if (versions.length === 0) throw new ServerError('not_found', `app "${app}" has no model "${model}"; publish a version of it first`);
    return c.json({ app, model, versions }, 200);
  });
  api.openapi(getVersion, async (c) => {
    const { app, model, version } = c.req.valid('param');
    const [details] = await describeVersions(db, app, model, version);
    if (!details) throw new ServerError('not_found', `model "${app}/${model}" has no version "${version}"`);
    return c.json(details, 200);
  });

  api.openapi(setHealth, async (c) => {
    const { app, model, version } = c.req.valid('param');
    const policy = c.req.valid('json');
    const empty = Object.keys(policy).length === 0;
    return c.json(await registry.setHealth(app, model, version, empty ? null : policy, { actor: c.get('token').id, requestId: c.get('requestId') }), 200);
  });

  /** Both upload routes: the raw body streamed to the registry with the query's optional fields. */
  const receive = async (
    raw: Request,
    target: Pick<UploadInput, 'app' | 'model' | 'version' | 'variant' | 'role'>,
    query: z.infer<typeof uploadQuery>,
    meta: { idempotencyKey: string | undefined; publisher: string; requestId: string; what: string },
  ) => {
    checkContentType(raw.headers.get('content-type') ?? undefined);
    if (!raw.body) throw new ServerError('invalid_model', `the upload is empty: send the ${meta.what} as the request body`);
    return registry.upload({
      ...target,
      body: raw.body,
      format: query.format,
      ...(query.notes !== undefined && { notes: query.notes }),
      ...(query.channel !== undefined && { channel: query.channel }),
      ...(query.backend !== undefined && { backend: query.backend }),
      ...(query.precision !== undefined && { precision: query.precision }),
      ...(meta.idempotencyKey !== undefined && { idempotencyKey: meta.idempotencyKey }),
      publisher: meta.publisher,
      requestId: meta.requestId,
    });
  };

  api.openapi(publishVersion, async (c) => {
    const query = c.req.valid('query');
    const token = c.get('token');
    // Pointing a channel at the new version is a rollout action: it needs that scope too.
    if (query.channel !== undefined && !grants(token.scopes, 'rollout')) {
      throw new ServerError(
        'forbidden',
        `token ${token.id} has scopes [${token.scopes.join(', ')}]; publishing with ?channel= moves channel "${query.channel}", which needs "rollout". Publish without ?channel= and move the channel with a rollout, or use a token with the "rollout" scope`,
      );
    }
    const result = await receive(c.req.raw, c.req.valid('param'), query, {
      idempotencyKey: c.req.valid('header')['idempotency-key'],
      publisher: c.get('token').id,
      requestId: c.get('requestId'),
      what: 'model file',
    });
    if (result.replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(result.body, 201);
  });

  api.openapi(addFile, async (c) => {
    const params = c.req.valid('param');
    const result = await receive(c.req.raw, { ...params, role: parseFileRole(params.role) }, c.req.valid('query'), {
      idempotencyKey: c.req.valid('header')['idempotency-key'],
      publisher: c.get('token').id,
      requestId: c.get('requestId'),
      what: 'file',
    });
    if (result.replayed) c.header('Idempotent-Replayed', 'true');
    return c.json(result.body, 201);
  });
}
